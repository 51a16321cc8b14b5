"""``medxpert sweep`` end to end: real lm-eval runs against the scripted server, one served model per checkpoint.

The resume test kills the whole sweep (kill -9 of its process group) in the middle of the second checkpoint and
reruns it: the request counts must be exact — nothing finished is asked again, the interrupted checkpoint asks
only what it had not been answered (lm-eval's --use_cache), and the numbers equal an uninterrupted run's.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.sweep_helpers import (
    TASK,
    PerCheckpoint,
    endpoint_profile,
    make_checkpoints,
    results,
    run_sweep,
    state,
    sweep_argv,
    sweep_env,
)

pytestmark = pytest.mark.e2e

LIMIT = 8
KILL_AFTER = 3  # answered requests of step-200 before the kill


def _cache_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM unnamed").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_kill9_mid_sweep_then_rerun_loses_nothing_and_repeats_nothing(scripted_server, tmp_path):
    ckpts = make_checkpoints(tmp_path / "run")
    script = PerCheckpoint(hold_at=("step-200", KILL_AFTER + 1))
    server = scripted_server(script)
    profile = endpoint_profile(tmp_path / "profile.yaml", server, num_concurrent=1)
    out = tmp_path / "sweep"
    argv = sweep_argv(ckpts, profile, out, LIMIT)

    # 1. run until step-200 has been answered KILL_AFTER times and asks for one more, then kill -9 everything
    proc = subprocess.Popen(argv, env=sweep_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        _wait(lambda: script.held.is_set() or proc.poll() is not None, 600, "step-200's request to be held")
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
        # the answers already received are in lm-eval's cache (committed by its writer thread)
        _wait(lambda: _cache_rows(out / "step-200" / "cache" / "lmeval_rank0.db") == KILL_AFTER, 30, "cache rows")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        script.release()
    assert dict(script.seen) == {"step-100": LIMIT, "step-200": KILL_AFTER + 1}
    assert server.count == LIMIT + KILL_AFTER + 1
    assert state(out, "step-100")["stages"]["harness"]["status"] == "done"
    assert state(out, "step-200")["stages"]["harness"]["status"] == "running"  # what kill -9 leaves behind
    assert not (out / "step-300").exists()

    # 2. rerun the same command: step-100 skipped, step-200 asks only what was never answered, step-300 in full
    script.hold_at = None
    script.seen.clear()
    proc2 = run_sweep(argv)
    assert proc2.returncode == 0, proc2.stdout[-3000:] + proc2.stderr[-3000:]
    assert dict(script.seen) == {"step-200": LIMIT - KILL_AFTER, "step-300": LIMIT}
    assert "step-100: finished earlier, skipped" in proc2.stdout
    assert not server.errors, server.errors[0]

    # exact scores per checkpoint, counted independently from the scripted reply styles
    for name in ("step-100", "step-200", "step-300"):
        row = results(out, name)
        assert row["acc,extract"] == pytest.approx(script.expected_acc(name), abs=1e-12), name
        assert row["extract_fail,extract"] == pytest.approx(script.expected_extract_fail(name), abs=1e-12), name
        assert len(set(script.questions[name])) == LIMIT
        st = state(out, name)
        assert st["stages"]["harness"]["status"] == "done" and st["ran_by"].startswith("local pid")
    assert results(out, "step-200")["acc,extract"] == 1.0
    # store stages: every checkpoint ingested once, the leaderboard written, each gated against the previous one
    from medxpert_ext.results.store import Store

    with Store.open(str(out / "results.db")) as store:
        assert sorted(r.step for r in store.runs()) == [100, 200, 300]
    assert (out / "leaderboard.html").is_file()
    assert state(out, "step-200")["stages"]["ingest"]["status"] == "done"
    assert state(out, "step-300")["stages"]["gate"]["status"] == "done" and "│ pass" in proc2.stdout
    # the summary table has every checkpoint with its score
    for name in ("step-100", "step-200", "step-300"):
        assert f"acc {results(out, name)['acc,extract']:.4f}" in proc2.stdout

    # 3. a third run asks nothing at all
    script.seen.clear()
    proc3 = run_sweep(argv)
    assert proc3.returncode == 0, proc3.stdout[-3000:]
    assert sum(script.seen.values()) == 0
    assert proc3.stdout.count("finished earlier, skipped") == 3
    assert TASK in proc3.stdout


def _two_checkpoint_run(tmp_path, scripted_server):
    ckpts = make_checkpoints(tmp_path / "run", steps=(100, 200))
    script = PerCheckpoint()
    server = scripted_server(script)
    profile = endpoint_profile(tmp_path / "profile.yaml", server, num_concurrent=2)
    return ckpts, script, profile, tmp_path / "sweep"


def test_slurm_launcher_on_a_real_single_node_cluster(scripted_server, tmp_path):
    from tests.slurm_cluster import SlurmCluster

    cluster = SlurmCluster(tmp_path / "slurm").start()
    if cluster is None:
        pytest.skip(f"no Slurm cluster here: {SlurmCluster(tmp_path).reason or 'could not start'}")
    try:
        ckpts, script, profile, out = _two_checkpoint_run(tmp_path, scripted_server)
        argv = sweep_argv(ckpts, profile, out, 3, "--launcher", "slurm", "--slurm-cpus", "1", "--concurrent", "2")
        proc = run_sweep(argv, env=sweep_env(MEDXPERT_SWEEP_POLL_SECONDS="1", **cluster.env))
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    finally:
        cluster.stop()
    assert dict(script.seen) == {"step-100": 3, "step-200": 3}
    (sbatch,) = (out / "slurm").glob("sweep-*.sbatch")  # the script, saved next to the results
    text = sbatch.read_text()
    assert "#SBATCH --array=0,1\n" in text and "#SBATCH --cpus-per-task=1\n" in text
    assert "sweep-worker" in text and "--gres" not in text  # endpoint profile: no GPUs requested
    job = proc.stdout.split("submitted Slurm array job ")[1].split()[0]
    for i, name in enumerate(("step-100", "step-200")):
        st = state(out, name)
        assert st["ran_by"] == f"slurm {job}_{i}"  # really ran as an array task
        assert (out / "slurm" / f"{job}_{i}.out").is_file()
        assert results(out, name)["acc,extract"] == pytest.approx(script.expected_acc(name), abs=1e-12)


def test_ray_launcher_on_a_local_ray_instance(scripted_server, tmp_path):
    pytest.importorskip("ray")
    ckpts, script, profile, out = _two_checkpoint_run(tmp_path, scripted_server)
    argv = sweep_argv(ckpts, profile, out, 3, "--launcher", "ray")
    proc = run_sweep(argv, env=sweep_env(RAY_ADDRESS="", RAY_USAGE_STATS_ENABLED="0"))
    if proc.returncode != 0 and "ray" in proc.stderr.lower() and "init" in proc.stderr.lower():
        pytest.skip(f"Ray could not start here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert dict(script.seen) == {"step-100": 3, "step-200": 3}
    for name in ("step-100", "step-200"):
        st = state(out, name)
        assert st["ran_by"].startswith("ray task ")
        assert results(out, name)["acc,extract"] == pytest.approx(script.expected_acc(name), abs=1e-12)


def test_judge_stage_runs_after_the_model_and_is_not_repeated(scripted_server, tmp_path):
    """--judge: a separate `medxpert judge` process after the model's run (every model request comes before any
    judge request), its verdicts cached; a rerun sends nothing to either."""
    ckpts = make_checkpoints(tmp_path / "run", steps=(200,))  # step-200 answers every question correctly
    times: dict[str, list[float]] = {"model": [], "judge": []}
    script = PerCheckpoint()

    def model(body):
        times["model"].append(time.monotonic())
        return script(body)

    def judge(body):
        times["judge"].append(time.monotonic())
        return json.dumps({"extracted_final_answer": "A", "reasoning": "scripted", "correct": "yes", "confidence": 90})

    model_server, judge_server = scripted_server(model), scripted_server(judge)
    profile = endpoint_profile(tmp_path / "profile.yaml", model_server, num_concurrent=2)
    out = tmp_path / "sweep"
    argv = sweep_argv(ckpts, profile, out, 4, "--judge", "scripted-judge", "--judge-base-url", judge_server.base_url,
                      "--judge-api-key-env", "SWEEP_TEST_JUDGE_KEY")  # fmt: skip
    env = sweep_env(SWEEP_TEST_JUDGE_KEY="sk-sweep-test-secret")
    proc = run_sweep(argv, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert len(times["model"]) == 4 and len(times["judge"]) == 4
    assert max(times["model"]) < min(times["judge"])
    st = state(out, "step-200")
    assert st["stages"]["judge"]["status"] == "done"
    (judged,) = (out / "step-200" / "judged").rglob("results_*.json")
    assert json.loads(judged.read_text())["results"][f"{TASK}_judge"]["judge_acc,judge"] == 1.0
    assert "sk-sweep-test-secret" not in proc.stdout + proc.stderr
    for path in out.rglob("*"):
        if path.is_file():
            assert b"sk-sweep-test-secret" not in path.read_bytes(), path

    proc = run_sweep(argv, env=env)
    assert proc.returncode == 0 and len(times["model"]) == 4 and len(times["judge"]) == 4
    assert "step-200: finished earlier, skipped" in proc.stdout
