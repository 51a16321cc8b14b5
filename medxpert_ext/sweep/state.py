"""What is finished, recorded so that kill -9 at any moment loses nothing and repeats nothing finished.

Each checkpoint has ``<output>/<name>/state.json``, rewritten atomically (temp file + fsync + rename) after every
stage: a reader sees the old state or the new one, never half a file. A stage counts as done only when its
output is checked (the harness' results file names every requested task with every sample logged), and only
for the plan fingerprint it ran under. Work inside an unfinished harness stage is kept by the harness' own
cache, not here.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

Status = Literal["pending", "running", "done", "failed", "skipped"]
WORKER_STAGES = ("harness", "judge")
DRIVER_STAGES = ("ingest", "leaderboard", "gate")


class StageRecord(BaseModel):
    status: Status = "pending"
    message: str = ""
    returncode: int | None = None
    seconds: float | None = None
    finished_at: float | None = None


class CheckpointState(BaseModel):
    name: str
    step: int
    fingerprint: str
    stages: dict[str, StageRecord] = {}
    results_file: str | None = None  # the harness results file this state vouches for
    gate: str | None = None  # "pass" | "regression" | "not comparable" | None
    ran_by: str | None = None  # where the worker stages last ran: "local pid N", "slurm JOB_TASK", "ray task ID"

    def stage(self, name: str) -> StageRecord:
        return self.stages.setdefault(name, StageRecord())

    def done(self, name: str) -> bool:
        return self.stages.get(name, StageRecord()).status == "done"

    def worker_finished(self, judge: bool) -> bool:
        return self.done("harness") and (self.done("judge") or not judge)

    def failed(self) -> bool:
        return any(self.stages.get(s, StageRecord()).status == "failed" for s in WORKER_STAGES)


def save_state(path: Path, state: CheckpointState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(state.model_dump_json(indent=2))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_state(path: Path, name: str, step: int, fingerprint: str) -> CheckpointState:
    """The saved state if it belongs to this plan; else a fresh one (a changed plan re-runs, caches still hit)."""
    try:
        state = CheckpointState.model_validate_json(path.read_text())
    except (OSError, ValidationError, ValueError):
        return CheckpointState(name=name, step=step, fingerprint=fingerprint)
    if state.fingerprint != fingerprint:
        return CheckpointState(name=name, step=step, fingerprint=fingerprint)
    return state  # a stage left "running" by a killed process is simply not done: it runs again, from its cache


def reset_failed(path: Path, state: CheckpointState) -> None:
    """Before a rerun: an earlier run's failure must not read as this run's outcome (Slurm/Ray watch the file)."""
    changed = False
    for name in WORKER_STAGES:
        record = state.stages.get(name)
        if record is not None and record.status in ("failed", "running"):
            record.status, record.message, changed = "pending", "", True
    if changed:
        save_state(path, state)


def mark(state: CheckpointState, path: Path, stage: str, status: Status, message: str = "",
         returncode: int | None = None, started: float | None = None) -> None:  # fmt: skip
    record = state.stage(stage)
    record.status, record.message, record.returncode = status, message, returncode
    record.finished_at = time.time() if status != "running" else None
    record.seconds = round(time.time() - started, 2) if started is not None and status != "running" else None
    save_state(path, state)


# -- is a harness run complete? ---------------------------------------------------------------------------------


def newest_results_file(harness_dir: Path, since: float = 0.0) -> Path | None:
    files = [p for p in harness_dir.rglob("results_*.json") if p.stat().st_mtime >= since]
    return max(files, key=lambda p: p.stat().st_mtime) if files else None


def check_lmeval_results(results_file: Path, tasks: list[str], limit: float | None) -> str | None:
    """None when the results file covers every requested task with all its samples; else what is missing."""
    try:
        data = json.loads(results_file.read_text())
    except (OSError, ValueError) as exc:
        return f"{results_file}: unreadable ({exc})"
    names = set(data.get("results", {})) | set(data.get("groups", {}))
    missing = [t for t in tasks if t not in names]
    if missing:
        return f"{results_file}: no results for {', '.join(missing)}"
    for task, counts in data.get("n-samples", {}).items():
        effective, original = counts.get("effective", 0), counts.get("original", 0)
        if limit is not None and float(limit).is_integer() and limit >= 1:
            want = min(int(limit), original)
        elif limit is None:
            want = original
        else:
            want = effective  # fractional --limit: lm-eval rounds; trust its count
        if effective != want or effective == 0:
            return f"{results_file}: {task} has {effective} samples, expected {want}"
        samples = results_file.parent / f"samples_{task}_{_date_id(results_file)}.jsonl"
        if not samples.is_file():
            return f"{results_file}: no samples file for {task} (--log_samples)"
        with open(samples, "rb") as fh:
            lines = sum(1 for line in fh if line.strip())
        if lines != effective:
            return f"{samples}: {lines} samples logged, expected {effective}"
    return None


def check_opencompass_results(work_dir: Path, tasks: list[str]) -> tuple[Path | None, str | None]:
    """SEAM (lead): OpenCompass writes ``<work_dir>/<timestamp>/summary/summary_<timestamp>.csv`` with one row per
    dataset; complete when every task is a row with a score. Adjust to the adapter's task -> dataset names."""
    import csv

    summaries = sorted(work_dir.glob("*/summary/summary_*.csv"), key=lambda p: p.stat().st_mtime)
    if not summaries:
        return None, f"{work_dir}: no OpenCompass summary"
    with open(summaries[-1], newline="") as fh:
        rows = {row.get("dataset"): row for row in csv.DictReader(fh)}
    missing = [t for t in tasks if t not in rows or any(v == "-" for v in rows[t].values())]
    return summaries[-1], (f"{summaries[-1]}: no score for {', '.join(missing)}" if missing else None)


def _date_id(results_file: Path) -> str:
    """lm-eval names one run's files results_<date>.json and samples_<task>_<date>.jsonl."""
    return results_file.stem.removeprefix("results_")


def samples_files(results_file: Path) -> list[Path]:
    """The samples files of the same run as ``results_file`` (an earlier run's files may share the folder)."""
    return sorted(results_file.parent.glob(f"samples_*_{_date_id(results_file)}.jsonl"))
