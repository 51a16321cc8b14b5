"""Several real judge processes on one cache (the GPU jobs of a sweep): every verdict is paid for exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from medxpert_ext.judge.cache import VerdictCache
from medxpert_ext.judge.types import JudgeItem, Verdict
from tests.judge_script import JudgeScript

REPO = Path(__file__).resolve().parents[1]


def _judge_procs(server, cache: Path, n_procs: int, n_items: int) -> list[subprocess.Popen]:
    cmd = [sys.executable, "-m", "tests.judge_script", "--base-url", server.base_url, "--cache", str(cache),
           "--n", str(n_items), "--concurrency", "8"]
    return [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(n_procs)]


def test_four_processes_on_one_cache_pay_each_verdict_once(scripted_server, tmp_path):
    script = JudgeScript(work=0.02)
    server = scripted_server(script)
    procs = _judge_procs(server, tmp_path / "shared.sqlite", 4, 150)
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err.decode()[-2000:]
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    assert server.count == 150  # before the claims: ~4 x 150
    assert set(script.attempts.values()) == {1}
    assert sum(r["requests_sent"] for r in reports) == 150
    assert sum(r["cached"] for r in reports) == 3 * 150  # each process got every verdict it did not pay for
    assert all(r["errors"] == 0 for r in reports)
    assert sum(r["requests_sent"] > 0 for r in reports) >= 2  # the work was shared, not serialised on one process
    with VerdictCache(tmp_path / "shared.sqlite") as cache:
        assert len(cache) == 150


def _item(sid: str) -> JudgeItem:
    return JudgeItem(task="t", sample_id=sid, mode="exact", question="q", response="r", gold="A")


def test_claim_lease_and_dead_owner(tmp_path):
    with VerdictCache(tmp_path / "c.sqlite") as a, VerdictCache(tmp_path / "c.sqlite") as b:
        key = VerdictCache.key("m", "v", _item("x"))
        assert a.claim(key, "otherhost:1:a", 30) is True
        assert b.claim(key, "otherhost:2:b", 30) is False  # live claim of another owner
        assert a.renew("otherhost:1:a", 0.0) == 1  # lease runs out now
        assert b.claim(key, "otherhost:2:b", 30) is True  # an expired claim is taken over
        b.put(key, _item("x"), Verdict(status="correct", extracted_answer="A"))
        got = a.claim(key, "otherhost:1:a", 30)
        assert isinstance(got, Verdict) and got.status == "correct" and got.cached
        # a claim of a process on this host that is gone is free at once, whatever its lease
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        key2 = VerdictCache.key("m", "v", _item("y"))
        import socket

        assert a.claim(key2, f"{socket.gethostname()}:{dead.pid}:z", 300) is True
        assert b.claim(key2, "otherhost:2:b", 30) is True
