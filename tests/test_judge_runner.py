"""The judge runner against the scripted server as judge: verdicts, usage, faults, retries, cache, kill -9,
the API key, Retry-After, concurrency, structured-output fallback, the token budget and the settings."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

import tests.scripted_server as scripted_server_module
from medxpert_ext.judge import modes
from medxpert_ext.judge.cache import VerdictCache, is_definitive
from medxpert_ext.judge.client import JudgeClient, retry_after_seconds
from medxpert_ext.judge.runner import judge_items
from medxpert_ext.judge.settings import JudgeConfigError, JudgeSettings
from medxpert_ext.judge.types import JudgeItem, Usage, Verdict
from tests.judge_script import (
    FAULTS,
    UNPARSEABLE_USAGE,
    FaultPlan,
    JudgeScript,
    expected_status,
    make_items,
    sid_of,
    usage_for,
    verdict_json,
)
from tests.scripted_server import Reply

REPO = Path(__file__).resolve().parents[1]
ENV_NAMES = ("MEDXPERT_JUDGE_API_KEY", "OPENAI_API_KEY", "MEDXPERT_JUDGE_CACHE", "MEDXPERT_JUDGE_BASE_URL",
             "MEDXPERT_JUDGE_MODEL", "MEDXPERT_JUDGE_CONCURRENCY", "MEDXPERT_JUDGE_TIMEOUT",
             "MEDXPERT_JUDGE_MAX_RETRIES", "MEDXPERT_JUDGE_TOKEN_BUDGET", "MEDXPERT_JUDGE_API_KEY_ENV")


@pytest.fixture(autouse=True)
def _fast_and_clean(monkeypatch):
    """Fast backoff (Retry-After is still honoured) and no judge settings leaking in from the environment."""
    monkeypatch.setattr(JudgeClient, "backoff_base", 0.01)
    monkeypatch.setattr(JudgeClient, "backoff_cap", 0.05)
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def settings_for(server, tmp_path: Path, name: str = "cache.sqlite", **kw) -> JudgeSettings:
    kw.setdefault("timeout", 5.0)
    return JudgeSettings(base_url=server.base_url, model="judge-model", cache_path=tmp_path / name, **kw)


def comparable(v: Verdict) -> dict:
    data = v.to_json()
    data.pop("cached")
    return data


def expected_usage(sids) -> Usage:
    return sum((Usage(**usage_for(s)) for s in sids), Usage())


def request_sids(server) -> list[str]:
    return [sid_of(body) for body in server.requests]


# --------------------------------------------------------------------------------------------- verdicts


def test_exact_verdicts_and_exact_usage(scripted_server, tmp_path):
    server = scripted_server(JudgeScript(), keep_bodies=True)
    items = make_items(30, task="medxpertqa_text") + make_items(20, task="medqa", prefix="m")
    report = judge_items(items, settings_for(server, tmp_path), progress=False)

    assert [v.status for v in report.verdicts] == [expected_status(it.sample_id) for it in items]
    assert {v.status for v in report.verdicts} == {"correct", "incorrect"}
    assert all(v.extracted_answer == "C" and v.confidence == 85 and not v.cached for v in report.verdicts)
    assert report.usage_by_task == {
        "medxpertqa_text": expected_usage(it.sample_id for it in items[:30]),
        "medqa": expected_usage(it.sample_id for it in items[30:]),
    }
    assert report.usage_total == expected_usage(it.sample_id for it in items)
    assert [v.usage for v in report.verdicts] == [Usage(**usage_for(it.sample_id)) for it in items]
    assert report.requests_sent == server.count == 50
    assert (report.cached, report.errors, report.retries, report.faults) == (0, 0, 0, {})
    assert not report.budget_exhausted and server.errors == []
    # the request is what modes builds, with the structured-output schema
    body = server.requests[0]
    assert body["model"] == "judge-model" and body["temperature"] == 0.0 and body["max_tokens"] == 2048
    assert body["response_format"]["type"] == "json_schema"


def test_faults_are_retried_and_never_scored(scripted_server, tmp_path):
    """~30 % of requests fail in every way the server can fail; every item still gets its scripted verdict."""
    # The client's timeout must be far above any reply a loaded machine can delay (an "ok" reply that outlives it
    # is retried and breaks the exact counts below) and far below the "timeout" fault's delay.
    script = JudgeScript(FaultPlan(seed=1, timeout_delay=8.0))
    server = scripted_server(script, latency=0.005, keep_bodies=True)
    items = make_items(200)
    report = judge_items(items, settings_for(server, tmp_path, timeout=3.0, concurrency=16), progress=False)

    assert [v.status for v in report.verdicts] == [expected_status(it.sample_id) for it in items]
    assert report.errors == 0 and server.errors == []
    served = Counter(name for _, name in script.served)
    n_faults = sum(n for name, n in served.items() if name != "ok")
    assert set(served) == {"ok", *FAULTS}, served  # every kind of fault was exercised
    assert n_faults / server.count >= 0.25, served
    assert report.requests_sent == server.count == 200 + n_faults
    assert report.retries == n_faults
    by_kind: Counter[str] = Counter()
    for name, n in served.items():
        if name != "ok":
            by_kind[FAULTS[name][0]] += n
    assert report.faults == dict(by_kind)
    # tokens of unparseable replies were spent too; nothing else was billed
    extra = Usage(**UNPARSEABLE_USAGE)
    unparseable = served["unparseable"]
    assert report.usage_total == expected_usage(it.sample_id for it in items) + Usage(
        extra.prompt_tokens * unparseable, extra.completion_tokens * unparseable)
    with VerdictCache(tmp_path / "cache.sqlite") as cache:
        assert len(cache) == 200


@pytest.mark.parametrize("fault", ["500", "503", "429_ra0", "drop", "truncated", "malformed", "no_choices",
                                   "unparseable", "timeout"])
def test_permanent_fault_without_retries_is_judge_error(scripted_server, tmp_path, fault):
    bad = {"q00003", "q00007", "q00011"}
    plan = FaultPlan(faulty_share=0.0, permanent=bad, permanent_fault=fault, timeout_delay=1.0)
    server = scripted_server(JudgeScript(plan), keep_bodies=True)
    items = make_items(16)
    settings = settings_for(server, tmp_path, max_retries=0, timeout=0.5)
    report = judge_items(items, settings, progress=False)

    for it, v in zip(items, report.verdicts):
        if it.sample_id in bad:
            assert v.status == "judge_error" and v.error.startswith(FAULTS[fault][0]), v
        else:
            assert v.status == expected_status(it.sample_id)
    assert report.errors == 3 and report.retries == 0
    assert report.requests_sent == server.count == 16
    assert report.faults == {FAULTS[fault][0]: 3}
    # judge_error is not cached: a rerun against a healthy judge asks again for exactly those items
    healthy = scripted_server(JudgeScript(), keep_bodies=True)
    rerun = judge_items(items, settings.model_copy(update={"base_url": healthy.base_url}), progress=False)
    assert sorted(request_sids(healthy)) == sorted(bad)
    assert [v.status for v in rerun.verdicts] == [expected_status(it.sample_id) for it in items]
    assert rerun.cached == 13 and rerun.errors == 0


def test_unparseable_reply_is_retried_then_judge_error(scripted_server, tmp_path):
    plan = FaultPlan(faulty_share=0.0, permanent={"q00000"}, permanent_fault="unparseable")
    server = scripted_server(JudgeScript(plan), keep_bodies=True)
    report = judge_items(make_items(1), settings_for(server, tmp_path, max_retries=3), progress=False)
    (v,) = report.verdicts
    assert v.status == "judge_error" and v.error.startswith("unparseable:") and "looks reasonable" in v.error
    assert server.count == report.requests_sent == 4 and report.retries == 3
    assert v.usage == Usage(4 * 50, 4 * 5) == report.usage_total  # failed attempts still cost tokens


# --------------------------------------------------------------------------------------------- cache


def test_cache_second_run_and_changed_items(scripted_server, tmp_path):
    server = scripted_server(JudgeScript(), keep_bodies=True)
    settings = settings_for(server, tmp_path)
    items = make_items(40)
    first = judge_items(items, settings, progress=False)
    assert server.count == 40

    server.reset()
    second = judge_items(items, settings, progress=False)
    assert server.count == 0 and second.requests_sent == 0 and second.cached == 40
    assert [comparable(v) for v in second.verdicts] == [comparable(v) for v in first.verdicts]
    assert all(v.cached for v in second.verdicts)
    assert second.usage_total == Usage() and second.usage_by_task == {}

    changed = list(items)
    changed[5] = replace(items[5], response=items[5].response + " I am sure.")
    changed[9] = replace(items[9], gold="E" if items[9].gold != "E" else "A")
    server.reset()
    third = judge_items(changed, settings, progress=False)
    assert sorted(request_sids(server)) == ["q00005", "q00009"]
    assert third.cached == 38 and third.requests_sent == 2
    # another judge model or prompt version is another cache entry
    server.reset()
    judge_items(items[:3], settings.model_copy(update={"model": "other-judge"}), progress=False)
    assert server.count == 3


def test_duplicate_items_are_judged_once(scripted_server, tmp_path):
    server = scripted_server(JudgeScript())
    items = make_items(3)
    report = judge_items(items + items, settings_for(server, tmp_path), progress=False)
    assert server.count == 3
    assert [replace(v, usage=Usage()) for v in report.verdicts[:3]] == report.verdicts[3:]
    assert sum((v.usage for v in report.verdicts), Usage()) == report.usage_total
    assert report.usage_total == expected_usage(it.sample_id for it in items)


def test_cache_keeps_only_definitive_verdicts(tmp_path):
    item = make_items(1)[0]
    stmt = JudgeItem(task="lfqa", sample_id="s1", mode="statements", question="q", response="r",
                     statements=("a", "b"))
    with VerdictCache(tmp_path / "c.sqlite") as cache:
        key = VerdictCache.key("m", "v1", item)
        assert not cache.put(key, item, Verdict(status="judge_error", error="timeout"))
        assert cache.get(key) is None
        assert cache.put(key, item, Verdict(status="incorrect", extracted_answer="B", usage=Usage(3, 4)))
        got = cache.get(key)
        assert got.status == "incorrect" and got.cached and got.usage == Usage(3, 4)
        assert not is_definitive(stmt, Verdict(status="correct", labels=("supported",)))
        assert is_definitive(stmt, Verdict(status="correct", labels=("supported", "not_mentioned")))
        # key depends on judge model, prompt version, task, sample id, response and gold
        keys = {
            VerdictCache.key("m", "v1", item), VerdictCache.key("m2", "v1", item), VerdictCache.key("m", "v2", item),
            VerdictCache.key("m", "v1", replace(item, task="t2")),
            VerdictCache.key("m", "v1", replace(item, sample_id="x")),
            VerdictCache.key("m", "v1", replace(item, response="other")),
            VerdictCache.key("m", "v1", replace(item, gold="Z")),
        }
        assert len(keys) == 7


_WRITER = """
import pathlib, sys, time
sys.path.insert(0, {repo!r})
from medxpert_ext.judge.cache import VerdictCache
from medxpert_ext.judge.types import JudgeItem, Verdict
w, barrier = int(sys.argv[1]), pathlib.Path(sys.argv[3])
(barrier / f"ready-{{w}}").touch()
while len(list(barrier.glob("ready-*"))) < 4:  # all writers open the fresh file and write at the same moment
    time.sleep(0.01)
cache = VerdictCache(sys.argv[2])
began = time.time()
for i in range(500):
    item = JudgeItem(task="t", sample_id=f"w{{w}}-{{i}}", mode="exact", question="q", response=f"r{{i}}", gold="A")
    cache.put(VerdictCache.key("m", "v", item), item, Verdict(status="correct", extracted_answer=str(i)))
print(began, time.time())
"""


def test_cache_with_concurrent_writer_processes(tmp_path):
    path = tmp_path / "shared.sqlite"
    code = _WRITER.format(repo=str(REPO))
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", code, str(w), str(path), str(barrier)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for w in range(4)]
    spans = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
        spans.append(tuple(map(float, out.split())))
    assert max(b for b, _ in spans) < min(e for _, e in spans)  # the four writers really overlapped
    with VerdictCache(path) as cache:
        assert len(cache) == 2000
        for w in range(4):
            for i in range(500):
                item = JudgeItem(task="t", sample_id=f"w{w}-{i}", mode="exact", question="q", response=f"r{i}",
                                 gold="A")
                assert cache.get(VerdictCache.key("m", "v", item)).extracted_answer == str(i)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _cached_sids(path: Path) -> set[str]:
    if not path.exists():
        return set()
    conn = sqlite3.connect(path, timeout=30)
    try:
        return {row[0] for row in conn.execute("SELECT sample_id FROM verdicts")}
    except sqlite3.OperationalError:  # table not created yet
        return set()
    finally:
        conn.close()


def test_kill_9_mid_run_then_resume(scripted_server, tmp_path):
    server = scripted_server(JudgeScript(), latency=0.05, keep_bodies=True)
    cache_file = tmp_path / "killed.sqlite"
    cmd = [sys.executable, "-m", "tests.judge_script", "--base-url", server.base_url, "--cache", str(cache_file),
           "--n", "400", "--concurrency", "8"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(_cached_sids(cache_file)) < 60:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the judge job never got going"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(cache_file) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    cached = _cached_sids(cache_file)
    assert 60 <= len(cached) < 400, len(cached)

    items = make_items(400)
    settings = settings_for(server, tmp_path, concurrency=8)
    server.reset()
    resumed = judge_items(items, settings.model_copy(update={"cache_path": cache_file}), progress=False)
    resent = request_sids(server)
    assert not set(resent) & cached  # nothing already judged was asked again
    assert sorted(resent) == sorted({it.sample_id for it in items} - cached)
    assert resumed.cached == len(cached) and resumed.errors == 0

    server.reset()
    fresh = judge_items(items, settings.model_copy(update={"cache_path": tmp_path / "fresh.sqlite"}),
                        progress=False)
    assert server.count == 400
    assert [comparable(v) for v in resumed.verdicts] == [comparable(v) for v in fresh.verdicts]

    server.reset()
    third = judge_items(items, settings.model_copy(update={"cache_path": cache_file}), progress=False)
    assert server.count == 0 and third.cached == 400


# --------------------------------------------------------------------------------------------- the API key


def test_api_key_is_sent_and_never_written(scripted_server, tmp_path, monkeypatch):
    key = "sk-test-UNIQUE-7f3a9c2e41b04d"
    monkeypatch.setenv("MEDXPERT_JUDGE_API_KEY", key)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-fallback-must-not-be-used")
    auth: list[str | None] = []
    original = scripted_server_module._Handler.do_POST

    def recording_do_post(handler):
        auth.append(handler.headers.get("Authorization"))
        return original(handler)

    monkeypatch.setattr(scripted_server_module._Handler, "do_POST", recording_do_post)
    rejected = {"q00002", "q00004"}  # these get a 401 that echoes the key, as some servers do

    def plan(sid, attempt):
        if sid in rejected:
            return "401", Reply(status=401, content=f"Incorrect API key provided: {key}")
        return None

    server = scripted_server(JudgeScript(plan))
    log_file = tmp_path / "judge.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        settings = settings_for(server, tmp_path)
        report = judge_items(make_items(10), settings, progress=False)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()

    assert auth and set(auth) == {f"Bearer {key}"}
    assert report.errors == 2 and report.faults == {"http_401": 2}
    written = [p for p in tmp_path.iterdir() if p.is_file()]
    assert log_file in written and any(p.name.startswith("cache.sqlite") for p in written)
    assert "Incorrect API key provided: ***" in log_file.read_text()  # the failure was logged, scrubbed
    assert all("Incorrect API key provided: ***" in v.error for v in report.verdicts if v.error)
    for path in written:
        assert key.encode() not in path.read_bytes(), path
    texts = [repr(report), str(settings.public()), json.dumps(settings.public()), settings.model_dump_json(),
             repr(settings), *(json.dumps(v.to_json()) for v in report.verdicts)]
    assert all(key not in text for text in texts)
    assert settings.public()["api_key_env"] == "MEDXPERT_JUDGE_API_KEY"
    assert settings.public()["prompt_version"] == modes.PROMPT_VERSION


# --------------------------------------------------------------------------------------------- retry policy


@pytest.mark.parametrize("status,retry_after", [(429, "1"), (503, "1"), (429, "date+2")])
def test_retry_after_is_honoured(scripted_server, tmp_path, status, retry_after):
    arrivals: dict[str, list[float]] = defaultdict(list)

    def responder(body):
        sid = sid_of(body)
        arrivals[sid].append(time.monotonic())
        if len(arrivals[sid]) == 1:
            value = email.utils.formatdate(time.time() + 2, usegmt=True) if retry_after == "date+2" else retry_after
            return Reply(status=status, headers={"Retry-After": value})
        return Reply(content=verdict_json(sid), usage=usage_for(sid))

    server = scripted_server(responder)
    items = make_items(2)
    report = judge_items(items, settings_for(server, tmp_path), progress=False)
    assert [v.status for v in report.verdicts] == [expected_status(it.sample_id) for it in items]
    assert server.count == 4 and report.retries == 2
    for first, second in arrivals.values():
        assert 0.9 <= second - first < 5.0, second - first  # backoff alone would be ~0.01 s


def test_retry_after_parsing():
    assert retry_after_seconds({"retry-after": "2.5"}) == 2.5
    assert retry_after_seconds({"retry-after": "3600"}) == 60.0  # capped
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    now = time.time()
    assert 9 <= retry_after_seconds({"retry-after": email.utils.formatdate(now + 10, usegmt=True)}, now=now) <= 10
    assert retry_after_seconds({"retry-after": email.utils.formatdate(now - 10, usegmt=True)}) == 0.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_non_retryable_status_fails_at_once(scripted_server, tmp_path, status):
    server = scripted_server(lambda body: Reply(status=status, content="nope"), keep_bodies=True)
    started = time.monotonic()
    report = judge_items(make_items(1), settings_for(server, tmp_path, max_retries=6), progress=False)
    (v,) = report.verdicts
    assert v.status == "judge_error" and v.error.startswith(f"http_{status}:") and "nope" in v.error
    assert server.count == report.requests_sent == 1 and report.retries == 0
    assert time.monotonic() - started < 3


def test_server_down_is_judge_error(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = JudgeSettings(base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=2,
                             cache_path=tmp_path / "c.sqlite")
    report = judge_items(make_items(3), settings, progress=False)
    assert report.errors == 3 and all(v.error.startswith("connection:") for v in report.verdicts)
    assert report.requests_sent == 9 and report.retries == 6 and report.faults == {"connection": 9}


def test_concurrency_limit(scripted_server, tmp_path):
    script = JudgeScript(work=0.05)
    server = scripted_server(script)
    report = judge_items(make_items(60), settings_for(server, tmp_path, concurrency=5), progress=False)
    assert report.errors == 0 and server.count == 60
    assert script.max_in_flight == 5


def test_concurrency_limit_with_faults(scripted_server, tmp_path):
    script = JudgeScript(FaultPlan(seed=3, kinds=("500", "drop", "429_ra0", "unparseable"), faulty_share=0.6),
                         work=0.02)
    server = scripted_server(script)
    report = judge_items(make_items(60), settings_for(server, tmp_path, concurrency=4), progress=False)
    assert report.errors == 0 and report.retries > 10
    assert 2 <= script.max_in_flight <= 4


# --------------------------------------------------------------------------------------------- structured output


def _rejects_response_format(body):
    if "response_format" in body:
        return Reply(status=400, content="Unsupported parameter: 'response_format' of type json_schema")
    sid = sid_of(body)
    return Reply(content=verdict_json(sid), usage=usage_for(sid))


def test_structured_output_auto_falls_back(scripted_server, tmp_path, caplog):
    server = scripted_server(_rejects_response_format, keep_bodies=True)
    items = make_items(30)
    with caplog.at_level(logging.WARNING, logger="medxpert_ext.judge"):
        report = judge_items(items, settings_for(server, tmp_path, concurrency=4), progress=False)
    assert [v.status for v in report.verdicts] == [expected_status(it.sample_id) for it in items]
    with_format = sum("response_format" in body for body in server.requests)
    assert 1 <= with_format <= 4 and server.count == 30 + with_format
    assert report.faults == {"response_format_rejected": with_format} and report.retries == 0
    assert "continuing without structured output" in caplog.text


def test_structured_output_json_schema_is_strict_and_none_sends_none(scripted_server, tmp_path):
    server = scripted_server(_rejects_response_format, keep_bodies=True)
    items = make_items(5)
    strict = judge_items(items, settings_for(server, tmp_path, structured_output="json_schema"), progress=False)
    assert strict.errors == 5 and server.count == 5
    assert all(v.error.startswith("http_400") for v in strict.verdicts)
    server.reset()
    plain = judge_items(items, settings_for(server, tmp_path, structured_output="none"), progress=False)
    assert plain.errors == 0 and server.count == 5
    assert not any("response_format" in body for body in server.requests)


def test_other_400_does_not_trigger_the_fallback(scripted_server, tmp_path):
    server = scripted_server(lambda body: Reply(status=400, content="maximum context length exceeded"), keep_bodies=True)
    report = judge_items(make_items(3), settings_for(server, tmp_path, concurrency=1), progress=False)
    assert report.errors == 3 and server.count == 3
    assert all("response_format" in body for body in server.requests)


# --------------------------------------------------------------------------------------------- budget


def test_token_budget_stops_new_requests_and_resumes(scripted_server, tmp_path):
    server = scripted_server(JudgeScript(), keep_bodies=True)
    items = make_items(30)
    budget = 3000
    settings = settings_for(server, tmp_path, concurrency=1, token_budget=budget)
    report = judge_items(items, settings, progress=False)
    judged = [v for v in report.verdicts if v.status != "judge_error"]
    skipped = [v for v in report.verdicts if v.status == "judge_error"]
    assert report.budget_exhausted and judged and skipped
    assert all(v.error == "token budget reached" for v in skipped)
    assert report.faults == {"budget": len(skipped)} and report.errors == len(skipped)
    assert server.count == len(judged) == report.requests_sent
    spent = report.usage_total.prompt_tokens + report.usage_total.completion_tokens
    last = judged[-1].usage.prompt_tokens + judged[-1].usage.completion_tokens
    assert spent >= budget > spent - last  # it stopped right after crossing the budget

    server.reset()
    resumed = judge_items(items, settings.model_copy(update={"token_budget": None}), progress=False)
    assert server.count == len(skipped) and resumed.cached == len(judged) and resumed.errors == 0


# --------------------------------------------------------------------------------------------- entry points


def test_judge_items_inside_a_running_loop_and_from_a_thread(scripted_server, tmp_path):
    server = scripted_server(JudgeScript())
    items = make_items(5)

    async def from_async():
        return judge_items(items, settings_for(server, tmp_path, "a.sqlite"), progress=False)

    assert asyncio.run(from_async()).errors == 0
    results = []
    thread = threading.Thread(target=lambda: results.append(
        judge_items(items, settings_for(server, tmp_path, "b.sqlite"), progress=False)))
    thread.start()
    thread.join(60)
    assert results and results[0].errors == 0 and server.count == 10


def test_client_complete(scripted_server, tmp_path):
    server = scripted_server(lambda body: Reply(content="plain text", usage={"prompt_tokens": 7,
                                                                             "completion_tokens": 2}), keep_bodies=True)

    async def go():
        client = JudgeClient(settings_for(server, tmp_path))
        try:
            return await client.complete([{"role": "user", "content": "hi"}], None)
        finally:
            await client.close()

    assert asyncio.run(go()) == ("plain text", Usage(7, 2))
    assert "response_format" not in server.requests[0]


def test_progress_bar_and_failure_summary(scripted_server, tmp_path, capsys, caplog):
    plan = FaultPlan(faulty_share=0.0, permanent={"q00001"}, permanent_fault="500")
    server = scripted_server(JudgeScript(plan))
    with caplog.at_level(logging.INFO, logger="medxpert_ext.judge"):
        report = judge_items(make_items(4), settings_for(server, tmp_path, max_retries=1), progress=True)
    assert report.errors == 1
    err = capsys.readouterr().err
    assert "judge" in err and "item/s" in err
    assert "4 items, 0 cached, 3 judged, 1 errors" in caplog.text
    assert "1 of 4 items failed" in caplog.text and "server_error=2" in caplog.text
    assert "rerun the same command to retry them" in caplog.text and str(tmp_path / "cache.sqlite") in caplog.text


# --------------------------------------------------------------------------------------------- settings


def test_settings_from_env_and_overrides(monkeypatch, tmp_path):
    with pytest.raises(JudgeConfigError, match="MEDXPERT_JUDGE_BASE_URL"):
        JudgeSettings.from_env(model="m")
    with pytest.raises(JudgeConfigError, match="MEDXPERT_JUDGE_MODEL"):
        JudgeSettings.from_env(base_url="http://x/v1")
    monkeypatch.setenv("MEDXPERT_JUDGE_BASE_URL", "http://judge:8000/v1")
    monkeypatch.setenv("MEDXPERT_JUDGE_MODEL", "env-model")
    monkeypatch.setenv("MEDXPERT_JUDGE_CONCURRENCY", "32")
    monkeypatch.setenv("MEDXPERT_JUDGE_TIMEOUT", "30")
    monkeypatch.setenv("MEDXPERT_JUDGE_MAX_RETRIES", "2")
    monkeypatch.setenv("MEDXPERT_JUDGE_TOKEN_BUDGET", "100000")
    monkeypatch.setenv("MEDXPERT_JUDGE_API_KEY_ENV", "MY_JUDGE_KEY")
    s = JudgeSettings.from_env(model="flag-model", concurrency=None)
    assert (s.base_url, s.model, s.concurrency, s.timeout, s.max_retries, s.token_budget, s.api_key_env) == (
        "http://judge:8000/v1", "flag-model", 32, 30.0, 2, 100000, "MY_JUDGE_KEY")
    monkeypatch.setenv("MEDXPERT_JUDGE_CONCURRENCY", "many")
    with pytest.raises(JudgeConfigError, match="MEDXPERT_JUDGE_CONCURRENCY"):
        JudgeSettings.from_env()
    with pytest.raises(ValueError):
        JudgeSettings(base_url="http://x", model="m", api_key="sk-no")  # the key is never a field


def test_settings_api_key_cache_path_public(monkeypatch, tmp_path):
    s = JudgeSettings(base_url="http://user:secret@judge/v1", model="m")
    assert s.api_key() == "EMPTY"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert s.api_key() == "sk-openai"
    monkeypatch.setenv("MEDXPERT_JUDGE_API_KEY", "sk-judge")
    assert s.api_key() == "sk-judge"
    assert s.resolved_cache_path() == Path.home() / ".cache" / "medxpert-ext" / "judge-cache.sqlite"
    monkeypatch.setenv("MEDXPERT_JUDGE_CACHE", str(tmp_path / "env.sqlite"))
    assert s.resolved_cache_path() == tmp_path / "env.sqlite"
    assert s.model_copy(update={"cache_path": tmp_path / "x.sqlite"}).resolved_cache_path() == tmp_path / "x.sqlite"
    public = s.public()
    assert public["base_url"] == "http://judge/v1"
    assert "sk-judge" not in json.dumps(public) and "secret" not in json.dumps(public)
    assert set(public) >= {"base_url", "model", "api_key_env", "concurrency", "timeout", "max_retries",
                           "prompt_version"}
