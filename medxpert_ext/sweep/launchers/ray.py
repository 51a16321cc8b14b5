"""``--launcher ray``: one Ray task per checkpoint, ``num_gpus`` from the profile (tensor x data parallel).

Ray places the task on a node with free GPUs and sets ``CUDA_VISIBLE_DEVICES`` for it; the task runs the same
per-checkpoint stages as the local launcher (each a child process, so the model's memory is freed before the
judge). ``--ray-address`` joins an existing cluster; without it a local Ray instance is started.
"""

from __future__ import annotations

import os

from ..plan import SweepPlan
from ..runner import checkpoint_state
from . import Events, LaunchError


def _run_one(plan_json: str, index: int) -> str:
    import ray

    from medxpert_ext.sweep.plan import SweepPlan
    from medxpert_ext.sweep.runner import run_checkpoint

    plan = SweepPlan.model_validate_json(plan_json)
    where = f"ray task {ray.get_runtime_context().get_task_id()} on {ray.get_runtime_context().get_node_id()[:12]}"
    return run_checkpoint(plan, index, ran_by=where).model_dump_json()


def run_ray(plan: SweepPlan, todo: list[int], events: Events) -> None:
    if not todo:
        return
    try:
        import ray
    except ImportError:
        raise LaunchError("--launcher ray needs Ray: pip install 'medxpert-ext[ray]'") from None
    from ..state import CheckpointState

    started_here = not ray.is_initialized()
    if started_here:
        kwargs = {"address": plan.ray_address} if plan.ray_address else {"num_cpus": os.cpu_count() or 1}
        ray.init(**kwargs, include_dashboard=False, log_to_driver=False)
    try:
        need, have = plan.gpus_per_checkpoint(), ray.cluster_resources().get("GPU", 0)
        if need > have:  # Ray would queue the task forever as infeasible
            raise LaunchError(f"each checkpoint needs {need} GPUs (profile tensor x data parallel); the Ray cluster has {have:g}")
        task = ray.remote(num_gpus=plan.gpus_per_checkpoint(), num_cpus=1, max_retries=0)(_run_one)
        plan_json = plan.model_dump_json()
        refs, waiting = {}, list(todo)
        limit = plan.concurrent or len(todo)  # --concurrent caps tasks in flight; else Ray's resources decide
        while refs or waiting:
            while waiting and len(refs) < limit:
                i = waiting.pop(0)
                refs[task.remote(plan_json, i)] = i
                events.started(i)
            done, _ = ray.wait(list(refs), num_returns=1, timeout=2.0)
            for ref in done:
                i = refs.pop(ref)
                try:
                    state = CheckpointState.model_validate_json(ray.get(ref))
                except ray.exceptions.RayError as exc:
                    state = checkpoint_state(plan, i)
                    record = state.stage("harness")
                    if record.status != "done":
                        record.status, record.message = "failed", f"Ray task failed: {str(exc).splitlines()[0]}"
                events.finished(i, state)
    finally:
        if started_here:
            ray.shutdown()
