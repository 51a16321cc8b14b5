"""``--launcher local``: checkpoints one after another, or N at a time with each job pinned to its own GPUs.

Pinning is by ``CUDA_VISIBLE_DEVICES`` on the job's processes (vLLM and torch both honour it), so two vLLM
servers with tensor parallel 2 on an 8-GPU box get 0,1 and 2,3 and never fight over memory.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

from ..plan import PlanError, SweepPlan
from ..runner import run_checkpoint
from . import Events


def visible_gpus(explicit: list[str]) -> list[str]:
    """GPUs this sweep may use: --gpus, else CUDA_VISIBLE_DEVICES, else what nvidia-smi lists, else none."""
    if explicit:
        return explicit
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g for g in env.split(",") if g.strip()]
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout
        return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]
    return []


def gpu_slots(plan: SweepPlan) -> list[str | None]:
    """One CUDA_VISIBLE_DEVICES value per concurrent job (None: no pinning, the job inherits the environment)."""
    need, concurrent = plan.gpus_per_checkpoint(), max(plan.concurrent, 1)
    if need == 0:
        return [None] * concurrent
    gpus = visible_gpus(plan.gpus)
    if not gpus:
        if concurrent > 1:
            raise PlanError(f"--concurrent {concurrent} needs GPUs to pin, but none are visible; pass --gpus 0,1,...")
        return [None]
    if need * concurrent > len(gpus):
        raise PlanError(
            f"--concurrent {concurrent} x {need} GPUs per checkpoint (tensor x data parallel of the profile) "
            f"needs {need * concurrent} GPUs; {len(gpus)} visible ({','.join(gpus)})"
        )
    return [",".join(gpus[k * need : (k + 1) * need]) for k in range(concurrent)]


def run_local(plan: SweepPlan, todo: list[int], events: Events) -> None:
    slots: queue.Queue[str | None] = queue.Queue()
    for slot in gpu_slots(plan):
        slots.put(slot)

    def job(index: int) -> None:
        slot = slots.get()
        try:
            events.started(index)
            env = {"CUDA_VISIBLE_DEVICES": slot} if slot is not None else None
            state = run_checkpoint(plan, index, env=env, progress=events.progress)
            events.finished(index, state)
        finally:
            slots.put(slot)

    if plan.concurrent <= 1:
        for index in todo:  # in step order, in this thread: Ctrl-C stops at once
            job(index)
        return
    with ThreadPoolExecutor(plan.concurrent) as pool:
        for future in [pool.submit(job, i) for i in todo]:
            future.result()
