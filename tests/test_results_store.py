"""The results store without a harness run: path/secret normalisation, idempotent ingest, broken inputs (one named
error each, the rest still stored), concurrent SQLite writers, resolve_run, and a real PostgreSQL server."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from medxpert_ext.results.ingest import ingest_paths
from medxpert_ext.results.leaderboard import build
from medxpert_ext.results.records import model_and_step, redact
from medxpert_ext.results.store import Store, StoreError
from tests.results_fixtures import SECRET, lmeval_sample, text_rows, write_lmeval_run, write_opencompass_workdir


@pytest.mark.parametrize(("name", "model", "step"), [
    ("/ckpts/med-llama/checkpoint-1200", "med-llama", 1200),
    ("/ckpts/run1/global_step300/hf", "run1", 300),
    ("/ckpts/run1/step-50", "run1", 50),
    ("org/med-llama-step-700", "org/med-llama", 700),
    ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", None),
    ("/models/qwen2.5-7b", "qwen2.5-7b", None),
])  # fmt: skip
def test_model_and_step(name, model, step):
    assert model_and_step(name) == (model, step)


def test_redact_removes_keys_tokens_passwords():
    args = {"pretrained": "/m", "api_key": "abc", "base_url": "http://u:pw@host:8/v1?token=t1&x=1", "hf_token": "hf_x",
            "max_gen_toks": 4096, "auth_header": "Bearer zzz", "tokenizer": "/tok", "other": "sk-123"}  # fmt: skip
    out = json.dumps(redact(args))
    for secret in ("abc", ":pw@", "t1", "hf_x", "zzz", "sk-123"):
        assert secret not in out
    red = redact(args)
    assert red["max_gen_toks"] == 4096 and red["tokenizer"] == "/tok" and red["base_url"].endswith("x=1")


def _run(folder: Path, model: str, acc: float, date: str, **kw) -> Path:
    return write_lmeval_run(folder, model, {"medxpert_text_reasoning": {"acc": acc, "extract_fail": 0.1}}, date_id=date, **kw)


def test_idempotent_ingest_and_reruns(tmp_path):
    samples = {"medxpert_text_reasoning": [lmeval_sample(i, f"Text-{i}", i % 2 == 0, i % 5 == 0, question_type="Reasoning",
                                                         body_system="Nervous") for i in range(10)]}  # fmt: skip
    first = _run(tmp_path / "a" / "m", "/ck/m/checkpoint-10", 0.5, "2026-11-30T10-00-00.000001", samples=samples)
    with Store.open(tmp_path / "s.db") as store:
        r1 = ingest_paths(store, [tmp_path / "a"])
        assert (r1.added, r1.existing, r1.errors) == (1, 0, [])
        before = store.counts()
        assert before == {"run": 1, "score": 2, "sample": 10}
        r2 = ingest_paths(store, [tmp_path / "a", first])  # the same file again, by folder and by path
        assert (r2.added, r2.existing) == (0, 1) and store.counts() == before
        shutil.copytree(tmp_path / "a", tmp_path / "copy")  # a copy elsewhere is the same run
        assert ingest_paths(store, [tmp_path / "copy"]).added == 0 and store.counts() == before
        _run(tmp_path / "a" / "m", "/ck/m/checkpoint-10", 0.5, "2026-11-30T11-00-00.000001")  # re-run: new run
        r3 = ingest_paths(store, [tmp_path / "a"])
        assert (r3.added, r3.existing) == (1, 1) and store.counts()["run"] == 2
        lb = build(store, published=False)
        assert len(lb.rows) == 1 and lb.rows[0].run_ids == [1, 2]  # same checkpoint: the newest run's numbers
        assert len(build(store, by="run", published=False).rows) == 2
        s = store.samples(1, "medxpert_text_reasoning")
        assert s["Text-0"].correct == 1 and s["Text-0"].fail == 1 and s["Text-1"].correct == 0
        assert s["Text-0"].reason == "garbage" and s["Text-2"].pred == "A"


def test_broken_inputs_are_named_and_the_rest_is_ingested(tmp_path):
    root = tmp_path / "outputs"
    good = _run(root / "good", "/ck/good/step-1", 0.5, "2026-11-30T10-00-00.000001")
    corrupt = root / "bad" / "results_2026-11-30T10-00-00.000002.json"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text(good.read_text()[:200])  # truncated mid-write
    wrong = root / "wrong" / "results_2026-11-30T10-00-00.000003.json"
    wrong.parent.mkdir(parents=True)
    wrong.write_text(json.dumps({"accuracy": 0.5}))
    trunc = _run(root / "trunc", "/ck/t/step-2", 0.5, "2026-11-30T10-00-00.000004",
                 samples={"medxpert_text_reasoning": [lmeval_sample(0, "Text-0", True, False)]})  # fmt: skip
    sfile = next(trunc.parent.glob("samples_*.jsonl"))
    sfile.write_text(sfile.read_text() + '{"doc_id": 1, "doc": {"id": "Te')
    nosamples = _run(root / "nos", "/ck/n/step-3", 0.25, "2026-11-30T10-00-00.000005")
    (root / "notes.txt").write_text("hello")
    (root / "good" / "README.md").write_text("x")
    orphan = root / "orphan" / "samples_medxpert_text_reasoning_2026-11-30T10-00-00.000009.jsonl"
    orphan.parent.mkdir()
    orphan.write_text("{}\n")
    write_opencompass_workdir(root / "oc", text_rows(12, 8), abbr="m-oc", path="/ck/oc/step-5", details=False)
    oc_bad = write_opencompass_workdir(root / "oc2", text_rows(12, 8), abbr="m-oc2", path="/ck/oc2/step-6")
    (oc_bad / "results" / "m-oc2" / "medxpert_text_reasoning.json").write_text('{"acc": 50.0, "details": [')

    db = tmp_path / "s.db"
    proc = subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "ingest", str(root), "--db", str(db)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("medxpert: error:")]
    assert len(errors) == 4, proc.stderr
    assert any(str(corrupt) in e and "not valid JSON" in e for e in errors)
    assert any(str(wrong) in e and "not an lm-eval results file" in e for e in errors)
    assert any(f"{sfile}:2" in e and "truncated" in e for e in errors)
    assert any("medxpert_text_reasoning.json" in e and "oc2" in e and "not valid JSON" in e for e in errors)
    assert "Traceback" not in proc.stderr
    assert "ingested 3 new runs" in proc.stdout and "2 unknown files skipped" in proc.stdout
    assert "1 samples files without their results file" in proc.stdout and "4 failed" in proc.stdout
    assert f"{nosamples}: no samples files" in proc.stderr and "no per-sample details" in proc.stderr
    with Store.open(db) as store:
        assert sorted(r.model for r in store.runs()) == ["good", "n", "oc"]
        oc = next(r for r in store.runs() if r.harness == "opencompass")
        assert oc.step == 5 and oc.pack_version == "0.1.0" and store.tasks(oc.id) == []  # scores only
        assert {s.task for s in store.scores([oc.id])} == {"medxpert_text_reasoning", "medxpert_text_understanding", "medxpert_text"}
    assert SECRET.encode() not in db.read_bytes()


def _ingest_worker(args):
    db, path = args
    with Store.open(db) as store:
        return ingest_paths(store, [Path(path)]).added


def test_concurrent_sqlite_writers(tmp_path):
    paths = []
    for i in range(8):
        samples = {"medxpert_text_reasoning": [lmeval_sample(j, f"T-{j}", j % 3 == 0, False) for j in range(300)]}
        paths.append(str(_run(tmp_path / f"r{i}", f"/ck/m/step-{i}", 0.5, f"2026-11-30T10-00-{i:02d}.000001", samples=samples)))
    db = str(tmp_path / "shared.db")
    jobs = [(db, p) for p in paths] + [(db, p) for p in paths[:4]]  # four files ingested twice, concurrently
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        added = pool.map(_ingest_worker, jobs, chunksize=1)
    assert sum(added) == 8
    with Store.open(db) as store:
        assert store.counts() == {"run": 8, "score": 16, "sample": 8 * 300}


def test_resolve_run(tmp_path):
    _run(tmp_path / "a", "/ck/m/checkpoint-100", 0.4, "2026-11-30T10-00-00.000001")
    _run(tmp_path / "b", "/ck/m/checkpoint-200", 0.5, "2026-11-30T10-00-00.000002")
    other = _run(tmp_path / "c", "/ck/other/checkpoint-200", 0.6, "2026-11-30T10-00-00.000003")
    with Store.open(tmp_path / "s.db") as store:
        ingest_paths(store, [tmp_path / "a", tmp_path / "b"])
        assert store.resolve_run("1").step == 100 and store.resolve_run(2).step == 200 and store.resolve_run("#2").id == 2
        assert store.resolve_run("step:200").id == 2 and store.resolve_run("checkpoint-100").id == 1
        run = store.resolve_run(str(other))  # a path: ingested on the fly
        assert (run.id, run.model) == (3, "other") and store.resolve_run(str(other)).id == 3
        with pytest.raises(StoreError, match="several models"):
            store.resolve_run("global_step200")
        assert store.resolve_run("step-200", model="m").id == 2
        with pytest.raises(StoreError, match="no run with id 9"):
            store.resolve_run("9")
        with pytest.raises(StoreError, match="not a run id"):
            store.resolve_run("latest-ish")


def _pg_bindir() -> Path | None:
    for cand in [shutil.which("pg_ctl"), *sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)]:
        if cand and Path(cand).is_file():
            return Path(cand).resolve().parent
    return None


@pytest.fixture
def postgres_url():
    """A throwaway PostgreSQL cluster on a free port, as an unprivileged user (postgres refuses root)."""
    pytest.importorskip("psycopg")
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="medxpert-pg-"))  # not under pytest's root-only (0700) tmp folder
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *cmd: subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)  # noqa: E731
    init = run(str(bindir / "initdb"), "-D", str(data), "-U", "medx", "--auth=trust", "-E", "UTF8", "--no-sync")
    if init.returncode != 0:
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    start = run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60", "-o",
                f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start")  # fmt: skip
    if start.returncode != 0:
        pytest.skip(f"PostgreSQL did not start: {start.stderr.strip()[-300:]}")
    try:
        yield f"postgresql://medx:unused-password@127.0.0.1:{port}/postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_postgresql_store(postgres_url, tmp_path):
    samples = {"medxpert_text_reasoning": [lmeval_sample(i, f"Text-{i}", i % 2 == 0, i % 7 == 0, question_type="Reasoning",
                                                         medical_task="Diagnosis") for i in range(50)]}  # fmt: skip
    _run(tmp_path / "a", "/ck/m/checkpoint-100", 0.5, "2026-11-30T10-00-00.000001", samples=samples)
    _run(tmp_path / "b", "/ck/m/checkpoint-200", 0.625, "2026-11-30T10-00-00.000002",
         model_args={"pretrained": "/ck/m/checkpoint-200", "api_key": SECRET})  # fmt: skip
    env = {**os.environ, "MEDXPERT_DB": postgres_url}
    cmd = [sys.executable, "-m", "medxpert_ext.cli"]
    proc = subprocess.run([*cmd, "ingest", str(tmp_path)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "ingested 2 new runs" in proc.stdout and "unused-password" not in proc.stdout
    again = subprocess.run([*cmd, "ingest", str(tmp_path)], capture_output=True, text=True, env=env)
    assert "ingested 0 new runs (2 already stored)" in again.stdout
    with Store.open(postgres_url) as store:
        assert store.engine.dialect.name == "postgresql"
        assert [r.step for r in store.runs()] == [100, 200]
        assert store.resolve_run("step:200").model_args["api_key"] == "***"
        s = store.samples(1, "medxpert_text_reasoning")
        assert len(s) == 50 and s["Text-0"].correct == 1 and s["Text-0"].fail == 1 and s["Text-1"].medical_task == "Diagnosis"
    proc = subprocess.run([*cmd, "leaderboard", "--format", "json", "--no-published"], capture_output=True, text=True, env=env)
    rows = json.loads(proc.stdout)["rows"]
    assert [(r["step"], r["scores"]["medxpert_text_reasoning"]["value"]) for r in rows] == [(100, 50.0), (200, 62.5)]
