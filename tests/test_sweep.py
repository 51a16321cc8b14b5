"""The sweep's parts without a harness run: discovery order, the per-checkpoint profile and commands, resume
checks, the store stages' order and gate bases (through a recording runner), GPU pinning, the sbatch script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from medxpert_ext.profiles import lm_eval_args, load_profile
from medxpert_ext.sweep.discover import DiscoverError, discover
from medxpert_ext.sweep.external import (
    CommandResult,
    available_commands,
    run_pack_command,
)
from medxpert_ext.sweep.launchers.local import gpu_slots
from medxpert_ext.sweep.launchers.slurm import sbatch_script
from medxpert_ext.sweep.plan import (
    CheckpointDirs,
    JudgeStage,
    PlanError,
    SweepPlan,
    checkpoint_dicts,
    harness_command,
    judge_command,
    write_checkpoint_profile,
)
from medxpert_ext.sweep.runner import StoreStages, checkpoint_state, run_checkpoint
from medxpert_ext.sweep.state import check_lmeval_results, mark, reset_failed
from tests.sweep_helpers import sweep_env


def _plan(tmp_path: Path, profile: str = "qwen2.5-7b-instruct", steps=(100, 200, 300), **kw) -> SweepPlan:
    root = tmp_path / "ckpts"
    for s in steps:
        (root / f"step-{s}").mkdir(parents=True, exist_ok=True)
    out = tmp_path / "out"
    return SweepPlan(source=str(root), checkpoints=checkpoint_dicts(discover(root)),
                     profile=load_profile(profile).model_dump(mode="json"), tasks=["medbench_medqa"],
                     output=str(out), db=str(out / "results.db"), **kw)  # fmt: skip


# -- discover ---------------------------------------------------------------------------------------------------


def test_discover_orders_by_step_not_by_name(tmp_path):
    for name in ("step-1000", "step-200", "step-30", "notes", "step-abc"):
        (tmp_path / name).mkdir()
    (tmp_path / "step-5").write_text("a file, not a checkpoint")
    assert [(c.name, c.step) for c in discover(tmp_path)] == [("step-30", 30), ("step-200", 200), ("step-1000", 1000)]


def test_discover_trainer_layouts_and_list_file(tmp_path):
    for name in ("checkpoint-500", "global_step1500", "checkpoint-1000"):
        (tmp_path / name).mkdir()
    assert [c.step for c in discover(tmp_path)] == [500, 1000, 1500]
    listing = tmp_path / "ckpts.txt"
    listing.write_text("# evaluated nightly\nglobal_step1500\n/abs/run/ckpt_0300   # trailing digits\n\ncheckpoint-500\n")
    got = discover(listing)
    assert [(c.name, c.step) for c in got] == [("ckpt_0300", 300), ("checkpoint-500", 500), ("global_step1500", 1500)]
    assert got[2].path == str((tmp_path / "global_step1500").resolve())


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda p: (p / "model").mkdir(), "no checkpoint folders (expected sub-folders named step-N"),
        (lambda p: [(p / "step-100").mkdir(), (p / "step_100").mkdir()], "two checkpoints have step 100"),
        (lambda p: (p / "list.txt").write_text("final-model\n"), "list.txt:1: cannot read a step number from 'final-model'"),
    ],
)
def test_discover_errors_name_the_problem(tmp_path, setup, message):
    setup(tmp_path)
    target = tmp_path / "list.txt" if (tmp_path / "list.txt").exists() else tmp_path
    with pytest.raises(DiscoverError, match=message.replace("(", r"\(")):
        discover(target)


# -- plan -------------------------------------------------------------------------------------------------------


def test_checkpoint_replaces_the_weights_and_keeps_tensor_parallel(tmp_path):
    plan = _plan(tmp_path)
    ckpt = plan.checkpoint(1)
    written = load_profile(str(write_checkpoint_profile(plan, ckpt)))
    assert written.path == ckpt.path and written.tensor_parallel_size == 2 and written.backend == "vllm"
    flags, _ = lm_eval_args(written)
    model_args = flags[flags.index("--model_args") + 1]
    assert f"pretrained={ckpt.path}," in model_args and "tensor_parallel_size=2" in model_args
    name, args = harness_command(plan, ckpt)
    dirs = CheckpointDirs(plan, ckpt)
    assert name == "lm-eval" and args[:3] == ["run", "--profile", str(dirs.profile)]
    assert args[args.index("--use_cache") + 1] == str(dirs.cache / "lmeval") and "--log_samples" in args
    assert plan.gpus_per_checkpoint() == 2


def test_endpoint_profile_serves_the_checkpoint_by_name(tmp_path):
    plan = _plan(tmp_path, profile="openai-compatible")
    written = load_profile(str(write_checkpoint_profile(plan, plan.checkpoint(0))))
    assert written.path == "step-100" and written.base_url == "http://localhost:8000/v1/chat/completions"
    assert "model=step-100," in lm_eval_args(written)[0][3]
    assert plan.gpus_per_checkpoint() == 0


def test_fingerprint_tracks_what_changes_numbers_not_scheduling(tmp_path):
    plan = _plan(tmp_path)
    same = plan.model_copy(update={"launcher": "slurm", "concurrent": 4})
    assert plan.fingerprint() == same.fingerprint()
    assert plan.fingerprint() != plan.model_copy(update={"limit": 10.0}).fingerprint()
    assert plan.fingerprint() != plan.model_copy(update={"tasks": ["medbench"]}).fingerprint()


def test_judge_command_names_the_key_variable_never_a_key(tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", "sk-secret")
    plan = _plan(tmp_path, judge=JudgeStage(model="o3-mini", base_url="http://judge/v1", api_key_env="JUDGE_KEY"))
    name, args = judge_command(plan, plan.checkpoint(0), [Path("s.jsonl")])
    assert name == "judge" and args[0] == "s.jsonl" and "--api-key-env" in args and "JUDGE_KEY" in args
    plan.save()
    assert "sk-secret" not in (Path(plan.output) / "sweep-plan.json").read_text()


# -- GPU pinning, sbatch ----------------------------------------------------------------------------------------


def test_local_gpu_slots_pin_disjoint_gpus(tmp_path):
    plan = _plan(tmp_path, concurrent=2, gpus=["0", "1", "2", "3", "4"])
    assert gpu_slots(plan) == ["0,1", "2,3"]
    with pytest.raises(PlanError, match="needs 6 GPUs; 5 visible"):
        gpu_slots(plan.model_copy(update={"concurrent": 3}))
    assert gpu_slots(_plan(tmp_path / "e", profile="openai-compatible", concurrent=3)) == [None, None, None]


def test_sbatch_script_has_one_array_task_per_checkpoint_and_profile_resources(tmp_path):
    plan = _plan(tmp_path, concurrent=2)
    plan.slurm.partition, plan.slurm.time, plan.slurm.extra = "gpu", "04:00:00", ["--account=medllm"]
    text = sbatch_script(plan, [1, 2])
    lines = text.splitlines()
    assert "#SBATCH --array=1,2" in lines and "#SBATCH --gres=gpu:2" in lines
    assert {"#SBATCH --partition=gpu", "#SBATCH --time=04:00:00", "#SBATCH --account=medllm"} <= set(lines)
    assert lines[-1].endswith(f'sweep-worker {plan.output}/sweep-plan.json "$SLURM_ARRAY_TASK_ID"')
    assert "#SBATCH --array=0,1,2%2" in sbatch_script(plan, [0, 1, 2]).splitlines()
    assert "#SBATCH --array=0,1,2" in sbatch_script(plan.model_copy(update={"concurrent": 0}), [0, 1, 2]).splitlines()


# -- resume checks ----------------------------------------------------------------------------------------------


def _fake_lmeval_output(folder: Path, n_logged: int, effective: int = 10, task: str = "medbench_medqa") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    date = "2026-01-01T00-00-00.000000"
    results = folder / f"results_{date}.json"
    results.write_text(json.dumps({"results": {task: {"acc,extract": 0.5}},
                                   "n-samples": {task: {"original": 1273, "effective": effective}}}))  # fmt: skip
    (folder / f"samples_{task}_{date}.jsonl").write_text("{}\n" * n_logged)
    return results


def test_results_check_wants_every_task_and_every_sample(tmp_path):
    results = _fake_lmeval_output(tmp_path / "a", n_logged=10)
    assert check_lmeval_results(results, ["medbench_medqa"], 10) is None
    assert "no results for medbench_medmcqa" in check_lmeval_results(results, ["medbench_medqa", "medbench_medmcqa"], 10)
    assert "has 10 samples, expected 1273" in check_lmeval_results(results, ["medbench_medqa"], None)
    short = _fake_lmeval_output(tmp_path / "b", n_logged=7)
    assert "7 samples logged, expected 10" in check_lmeval_results(short, ["medbench_medqa"], 10)


def test_finished_checkpoint_is_not_run_again_and_a_changed_plan_is(tmp_path):
    plan = _plan(tmp_path, profile="openai-compatible", steps=(100,), limit=10.0)
    calls = []

    def runner(name, args, **kw):
        calls.append(name)
        _fake_lmeval_output(Path(args[args.index("--output_path") + 1]) / "m", n_logged=10)
        return CommandResult("done", 0)

    assert run_checkpoint(plan, 0, runner=runner).done("harness")
    assert run_checkpoint(plan, 0, runner=runner).done("harness") and calls == ["lm-eval"]
    changed = plan.model_copy(update={"limit": 20.0})  # new fingerprint: evaluated again
    state = run_checkpoint(changed, 0, runner=runner)
    assert calls == ["lm-eval", "lm-eval"] and state.failed()  # and the 10-sample output does not pass for 20
    assert "has 10 samples, expected 20" in state.stages["harness"].message


def test_an_earlier_failure_or_kill_is_cleared_before_a_rerun(tmp_path):
    """Slurm/Ray progress is read from the state files: a stale "failed" must not end the new task early."""
    plan = _plan(tmp_path, steps=(100,))
    path = CheckpointDirs(plan, plan.checkpoint(0)).state
    st = checkpoint_state(plan, 0)
    mark(st, path, "harness", "failed", "CUDA out of memory", 1)
    st = checkpoint_state(plan, 0)
    assert st.failed()
    reset_failed(path, st)
    st = checkpoint_state(plan, 0)
    assert not st.failed() and st.stages["harness"].status == "pending"


# -- store stages -----------------------------------------------------------------------------------------------


class Recorder:
    def __init__(self, regress_rc: dict[str, int] | None = None, missing: tuple[str, ...] = ()):
        self.calls: list[tuple[str, list[str]]] = []
        self.regress_rc = regress_rc or {}
        self.missing = missing

    def __call__(self, name, args, **kw):
        if name in self.missing:
            return CommandResult("skipped", None, f"`medxpert {name}` is not available in this install; stage skipped")
        self.calls.append((name, args))
        if name == "regress":
            rc = self.regress_rc.get(Path(args[1]).parent.name, 0)
            return CommandResult("done" if rc == 0 else "failed", rc)
        return CommandResult("done", 0)


def _finished_states(plan: SweepPlan) -> dict:
    states = {}
    for i in range(len(plan.checkpoints)):
        st = checkpoint_state(plan, i)
        mark(st, CheckpointDirs(plan, plan.checkpoint(i)).state, "harness", "done")
        states[i] = st
    return states


def test_store_stages_run_in_step_order_and_gate_against_the_previous(tmp_path):
    plan = _plan(tmp_path)
    states = _finished_states(plan)
    rec = Recorder(regress_rc={"step-300": 1})
    store = StoreStages(plan, runner=rec, on_message=lambda m: None)
    store.advance({2: states[2]})  # step-300 finished first (concurrent run): must wait for 100 and 200
    assert rec.calls == []
    store.advance(states)
    h = {i: str(CheckpointDirs(plan, plan.checkpoint(i)).harness) for i in range(3)}
    assert [c[0] for c in rec.calls] == ["ingest", "ingest", "regress", "ingest", "regress", "leaderboard"]
    assert rec.calls[0][1] == [h[0], "--db", plan.db]
    assert rec.calls[2][1] == [h[0], h[1], "--db", plan.db] and rec.calls[4][1] == [h[1], h[2], "--db", plan.db]
    assert rec.calls[5][1] == ["--db", plan.db, "--format", "html", "-o", f"{plan.output}/leaderboard.html"]
    assert [states[i].gate for i in range(3)] == [None, "pass", "regression"]
    # a rerun repeats none of it
    rec.calls.clear()
    StoreStages(plan, runner=rec, on_message=lambda m: None).advance({i: checkpoint_state(plan, i) for i in range(3)})
    assert rec.calls == []


def test_named_baseline_and_unavailable_commands(tmp_path):
    plan = _plan(tmp_path, baseline="200")
    states = _finished_states(plan)
    messages = []
    rec = Recorder(missing=("ingest", "leaderboard"))
    StoreStages(plan, runner=rec, on_message=messages.append).advance(states)
    h = {i: str(CheckpointDirs(plan, plan.checkpoint(i)).harness) for i in range(3)}
    assert rec.calls == [("regress", [h[1], h[0], "--db", plan.db]), ("regress", [h[1], h[2], "--db", plan.db])]
    assert messages == ["`medxpert ingest` is not available in this install; stage skipped"]  # said once
    assert states[0].stages["ingest"].status == "skipped"  # so a rerun, once ingest exists, does it


def test_run_pack_command_skips_a_command_this_install_lacks(tmp_path):
    assert {"lm-eval", "judge", "sweep", "sweep-worker"} <= available_commands()
    result = run_pack_command("no-such-command", [], log=tmp_path / "x.log")
    assert result.status == "skipped" and "`medxpert no-such-command` is not available" in result.message
    seen = []
    result = run_pack_command("breakdown", [str(tmp_path / "gone.jsonl")], log=tmp_path / "x.log",
                              on_progress=lambda *a: seen.append(a))  # fmt: skip
    assert result.status == "failed" and result.returncode == 2 and "does not exist" in result.message
    assert f"$ medxpert breakdown {tmp_path / 'gone.jsonl'}" in (tmp_path / "x.log").read_text()


# -- CLI --------------------------------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medxpert_ext.cli", *args], capture_output=True, text=True,
                          env=sweep_env(), timeout=120)  # fmt: skip


def test_cli_errors_before_anything_runs(tmp_path):
    (tmp_path / "run").mkdir()
    proc = _cli("sweep", str(tmp_path / "run"), "--profile", "qwen2.5-7b-instruct", "--tasks", "medbench", "--output", str(tmp_path / "o"))
    assert proc.returncode == 2 and "no checkpoint folders" in proc.stderr and "Traceback" not in proc.stderr
    listing = tmp_path / "list.txt"
    listing.write_text("step-100\n")
    proc = _cli("sweep", str(listing), "--profile", "qwen2.5-7b-instruct", "--tasks", "medbench", "--output", str(tmp_path / "o"))
    assert proc.returncode == 2 and f"checkpoint folder not found: {tmp_path / 'step-100'}" in proc.stderr
    (tmp_path / "step-100").mkdir()
    proc = _cli("sweep", str(listing), "--profile", "qwen2.5-7b-instruct", "--tasks", "medbench", "--output",
                str(tmp_path / "o"), "--harness", "opencompass", "--dry-run")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "  medxpert opencompass --profile" in proc.stdout and "--tasks medbench" in proc.stdout


def test_cli_dry_run_prints_every_stage(tmp_path):
    for s in (200, 100):
        (tmp_path / "run" / f"step-{s}").mkdir(parents=True)
    proc = _cli("sweep", str(tmp_path / "run"), "--profile", "qwen2.5-7b-instruct", "--tasks", "medbench", "--output",
                str(tmp_path / "o"), "--judge", "o3-mini", "--dry-run", "--", "--seed", "1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "step-100 (step 100)" and "step-200 (step 200)" in lines
    assert lines[1].startswith("  medxpert lm-eval run --profile") and lines[1].endswith("--seed 1")
    assert lines[2].startswith("  medxpert judge '<samples_*.jsonl>' --model o3-mini")
    assert any(l.startswith(f"  medxpert regress {tmp_path}/o/step-100/lmeval {tmp_path}/o/step-200/lmeval") for l in lines)
    assert not (tmp_path / "o" / "step-100").exists()  # nothing ran
