"""``--launcher slurm``: one array task per checkpoint, submitted with sbatch, followed with squeue/sacct.

The generated script is saved as ``<output>/slurm/sweep-<time>.sbatch`` next to the results, so what ran can be
read and resubmitted by hand. Each array task runs ``medxpert sweep-worker <plan> $SLURM_ARRAY_TASK_ID`` (the
array index is the checkpoint's index in the plan), with the interpreter and environment of the submitting
shell (sbatch exports it). Progress is read from the checkpoints' state files, which the tasks write.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..plan import PLAN_FILE, SweepPlan
from ..runner import checkpoint_state
from ..state import StageRecord
from . import Events, LaunchError

POLL_SECONDS = float(os.environ.get("MEDXPERT_SWEEP_POLL_SECONDS", "5"))  # squeue is cheap, but not free for slurmctld


def sbatch_script(plan: SweepPlan, todo: list[int]) -> str:
    out = Path(plan.output)
    array = ",".join(map(str, todo))
    if 0 < plan.concurrent < len(todo):
        array += f"%{plan.concurrent}"  # Slurm's own throttle: at most N array tasks at once
    lines = [
        "#!/bin/bash",
        "#SBATCH --job-name=medxpert-sweep",
        f"#SBATCH --array={array}",
        f"#SBATCH --output={out}/slurm/%A_%a.out",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={plan.slurm.cpus_per_task}",
    ]
    gpus = plan.gpus_per_checkpoint()  # tensor x data parallel of the profile
    if gpus:
        lines.append(f"#SBATCH --gres=gpu:{gpus}")
    for flag, value in (("partition", plan.slurm.partition), ("time", plan.slurm.time), ("mem", plan.slurm.mem)):
        if value:
            lines.append(f"#SBATCH --{flag}={value}")
    lines += [f"#SBATCH {extra}" for extra in plan.slurm.extra]
    worker = [sys.executable, "-m", "medxpert_ext.cli", "sweep-worker", str(out / PLAN_FILE)]
    lines += ["set -euo pipefail", " ".join(map(shlex.quote, worker)) + ' "$SLURM_ARRAY_TASK_ID"', ""]
    return "\n".join(lines)


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


def submit(plan: SweepPlan, todo: list[int]) -> tuple[str, Path]:
    if not shutil.which("sbatch"):
        raise LaunchError("--launcher slurm: sbatch not found on PATH (run the sweep on a Slurm login node)")
    folder = Path(plan.output) / "slurm"
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / f"sweep-{time.strftime('%Y%m%d-%H%M%S')}.sbatch"
    script.write_text(sbatch_script(plan, todo))
    proc = _run(["sbatch", "--parsable", str(script)])
    if proc.returncode != 0:
        raise LaunchError(f"sbatch refused {script}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip().split(";")[0], script


def job_active(job_id: str) -> bool:
    proc = _run(["squeue", "-h", "-j", job_id, "-o", "%i"])
    if proc.returncode != 0:
        # squeue forgets finished jobs; "Invalid job id" then means finished, anything else is a real problem
        if "invalid job id" in proc.stderr.lower():
            return False
        raise LaunchError(f"squeue -j {job_id}: {proc.stderr.strip()}")
    return bool(proc.stdout.strip())


def task_states(job_id: str) -> dict[int, str]:
    """Array index -> final Slurm state, from sacct (accounting) or scontrol (recently finished jobs)."""
    proc = _run(["sacct", "-j", job_id, "-n", "-P", "-X", "-o", "JobID,State"])
    out: dict[int, str] = {}
    if proc.returncode == 0 and proc.stdout.strip():
        for line in proc.stdout.splitlines():
            jid, _, state = line.partition("|")
            if "_" in jid and jid.split("_")[1].isdigit():
                out[int(jid.split("_")[1])] = state.split()[0]
        return out
    proc = _run(["scontrol", "show", "job", "-o", job_id])
    for line in proc.stdout.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if fields.get("ArrayTaskId", "").isdigit():
            out[int(fields["ArrayTaskId"])] = fields.get("JobState", "?")
    return out


def run_slurm(plan: SweepPlan, todo: list[int], events: Events, poll: float = POLL_SECONDS) -> None:
    if not todo:
        return
    job_id, script = submit(plan, todo)
    print(f"submitted Slurm array job {job_id} ({len(todo)} tasks); script {script}", flush=True)
    pending, seen_running = set(todo), set()
    judge = bool(plan.judge)
    while pending:
        active = job_active(job_id)
        for i in sorted(pending):
            state = checkpoint_state(plan, i)
            if any(r.status == "running" for r in state.stages.values()) and i not in seen_running:
                seen_running.add(i)
                events.started(i)
            if state.worker_finished(judge) or state.failed():
                pending.discard(i)
                events.finished(i, state)
        if not active:
            break
        time.sleep(poll)
    if pending:  # tasks that ended without recording an outcome: cancelled, timed out, node failure
        slurm_states = task_states(job_id)
        for i in sorted(pending):
            state = checkpoint_state(plan, i)
            record = state.stages.setdefault("harness", StageRecord())
            if record.status != "done":
                record.status = "failed"
                record.message = f"Slurm task {job_id}_{i} ended {slurm_states.get(i, 'without a result')} (log: {plan.output}/slurm/{job_id}_{i}.out)"
            events.finished(i, state)
