"""The stages of one checkpoint (run by a worker: this process, a Slurm array task or a Ray task) and the store
stages of the whole sweep (run by the driver, in step order, so the gate always has its base ingested and the
store sees one writer).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .external import CommandResult, run_pack_command
from .plan import (
    CheckpointDirs,
    SweepPlan,
    gate_base,
    harness_command,
    ingest_command,
    judge_command,
    leaderboard_command,
    regress_command,
    write_checkpoint_profile,
)
from .state import (
    CheckpointState,
    check_lmeval_results,
    check_opencompass_results,
    load_state,
    mark,
    newest_results_file,
    samples_files,
)

# (checkpoint index, what it is doing, n, total) -> live view
Progress = Callable[[int, str, int, int], None]
Runner = Callable[..., CommandResult]  # run_pack_command's signature; tests inject a recorder


def checkpoint_state(plan: SweepPlan, index: int) -> CheckpointState:
    ckpt = plan.checkpoint(index)
    return load_state(CheckpointDirs(plan, ckpt).state, ckpt.name, ckpt.step, plan.fingerprint())


def run_checkpoint(plan: SweepPlan, index: int, *, env: dict[str, str] | None = None,
                   progress: Progress | None = None, runner: Runner = run_pack_command,
                   ran_by: str | None = None) -> CheckpointState:  # fmt: skip
    """Harness, then the judge in a new process once the model's process has exited (its GPU memory is free).
    A finished stage is not run again; an interrupted harness run resumes from its cache."""
    ckpt = plan.checkpoint(index)
    dirs = CheckpointDirs(plan, ckpt)
    state = checkpoint_state(plan, index)
    report = progress or (lambda *_: None)
    if not state.worker_finished(bool(plan.judge)):
        state.ran_by = ran_by or _where()

    if not (state.done("harness") and _still_complete(plan, state)):
        write_checkpoint_profile(plan, ckpt)
        name, args = harness_command(plan, ckpt)
        report(index, f"{name} {','.join(plan.tasks)}", 0, 0)
        started = time.time()
        mark(state, dirs.state, "harness", "running")
        result = runner(name, args, log=dirs.logs / "harness.log", env=env,
                        on_progress=lambda desc, n, total: report(index, f"{name}: {desc}", n, total))  # fmt: skip
        if result.status != "done":
            mark(state, dirs.state, "harness", "failed", result.message, result.returncode, started)
            return state
        results_file, problem = _find_results(plan, dirs, since=started - 1)
        if problem:
            mark(state, dirs.state, "harness", "failed", problem, 0, started)
            return state
        state.results_file = str(results_file)
        mark(state, dirs.state, "harness", "done", "", 0, started)  # the done-marker: written after the check

    if plan.judge and not state.done("judge"):
        report(index, f"judge {plan.judge.model}", 0, 0)
        started = time.time()
        samples = samples_files(Path(state.results_file)) if plan.harness == "lmeval" else []
        if not samples:
            mark(state, dirs.state, "judge", "failed", "no samples files to judge", None, started)
            return state
        name, args = judge_command(plan, ckpt, samples)
        result = runner(name, args, log=dirs.logs / "judge.log", env=env,
                        on_progress=lambda desc, n, total: report(index, f"judge: {desc}", n, total))  # fmt: skip
        mark(state, dirs.state, "judge", result.status, result.message, result.returncode, started)
    return state


def _where() -> str:
    if os.environ.get("SLURM_ARRAY_JOB_ID"):
        return f"slurm {os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
    return f"local pid {os.getpid()}"


def _still_complete(plan: SweepPlan, state: CheckpointState) -> bool:
    """A done-marker is trusted only while the files it vouches for still check out."""
    if not state.results_file or not Path(state.results_file).exists():
        return False
    if plan.harness == "lmeval":
        return check_lmeval_results(Path(state.results_file), plan.tasks, plan.limit) is None
    return True


def _find_results(plan: SweepPlan, dirs: CheckpointDirs, since: float) -> tuple[Path | None, str | None]:
    if plan.harness == "opencompass":
        return check_opencompass_results(dirs.harness, plan.tasks)
    results_file = newest_results_file(dirs.harness, since)
    if results_file is None:
        return None, f"{dirs.harness}: the harness exited 0 but wrote no results_*.json"
    return results_file, check_lmeval_results(results_file, plan.tasks, plan.limit)


# -- driver: ingest, leaderboard, gate, in step order ----------------------------------------------------------

GATE_EXIT = {0: "pass", 1: "regression", 2: "not comparable"}


@dataclass
class StoreStages:
    """Advances the store stages over the longest prefix of checkpoints whose worker stages have ended."""

    plan: SweepPlan
    runner: Runner = run_pack_command
    on_message: Callable[[str], None] = print
    next_index: int = 0
    finished: set[int] = field(default_factory=set)  # indexes with harness results
    notes: set[str] = field(default_factory=set)

    def advance(self, states: dict[int, CheckpointState]) -> None:
        ingested = False
        while self.next_index < len(self.plan.checkpoints) and self.next_index in states:
            i = self.next_index
            state = states[i]
            if state.done("harness"):
                ingested |= self._ingest(i, state)
                self._gate(i, state)
                self.finished.add(i)
            self.next_index += 1
        if ingested:
            self._leaderboard(states)

    def _note(self, text: str) -> None:
        if text not in self.notes:  # say each "not available" once, not once per checkpoint
            self.notes.add(text)
            self.on_message(text)

    def _ingest(self, i: int, state: CheckpointState) -> bool:
        if state.done("ingest"):
            return False
        ckpt = self.plan.checkpoint(i)
        dirs = CheckpointDirs(self.plan, ckpt)
        name, args = ingest_command(self.plan, ckpt)
        started = time.time()
        result = self.runner(name, args, log=dirs.logs / "ingest.log")
        mark(state, dirs.state, "ingest", result.status, result.message, result.returncode, started)
        if result.status == "skipped":
            self._note(result.message)
        elif result.status == "failed":
            self.on_message(f"{ckpt.name}: ingest failed: {result.message}")
        return result.status == "done"

    def _gate(self, i: int, state: CheckpointState) -> None:
        if state.done("gate"):
            return
        ckpt = self.plan.checkpoint(i)
        dirs = CheckpointDirs(self.plan, ckpt)
        base = gate_base(self.plan, i, self.finished)
        if base is None:
            state.gate = None
            mark(state, dirs.state, "gate", "done", "first checkpoint: nothing to compare with")
            return
        label, base_ref = base
        name, args = regress_command(self.plan, base_ref, str(dirs.harness))
        started = time.time()
        result = self.runner(name, args, log=dirs.gate)
        if result.status == "skipped":
            self._note(result.message)
            mark(state, dirs.state, "gate", "skipped", result.message, None, started)
            return
        state.gate = GATE_EXIT.get(result.returncode, None)
        if state.gate is None:  # a crash, not a decision
            mark(state, dirs.state, "gate", "failed", result.message, result.returncode, started)
            return
        mark(state, dirs.state, "gate", "done", f"vs {label}: {state.gate}", result.returncode, started)
        if state.gate != "pass":
            self.on_message(f"{ckpt.name} vs {label}: {state.gate.upper()} (details: {dirs.gate})")

    def _leaderboard(self, states: dict[int, CheckpointState]) -> None:
        name, args = leaderboard_command(self.plan)
        result = self.runner(name, args, log=Path(self.plan.output) / "logs" / "leaderboard.log")
        if result.status == "skipped":
            self._note(result.message)
        elif result.status == "failed":
            self.on_message(f"leaderboard update failed: {result.message}")
        for i in states:  # recorded on every checkpoint it now includes
            st = states[i]
            if st.done("ingest"):
                mark(st, CheckpointDirs(self.plan, self.plan.checkpoint(i)).state, "leaderboard", result.status,
                     result.message, result.returncode)  # fmt: skip
