"""``medxpert sweep CKPT_DIR``: evaluate every checkpoint of a training run; ``sweep-worker`` is what a Slurm
array task runs for one checkpoint of a saved plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app, fail


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sweep(
    ctx: typer.Context,
    ckpt_dir: Annotated[Path, typer.Argument(help="folder of step-N / checkpoint-N / global_stepN folders, or a list file")],
    profile: Annotated[str, typer.Option(help="model profile (name or YAML); the checkpoint replaces its path / served model")],
    tasks: Annotated[str, typer.Option(help="comma-separated tasks or groups, e.g. medbench,medxpert_text")],
    output: Annotated[Path, typer.Option(help="sweep folder: one sub-folder per checkpoint, plan, leaderboard")],
    harness: Annotated[str, typer.Option(help="lmeval | opencompass")] = "lmeval",
    launcher: Annotated[str, typer.Option(help="local | slurm | ray")] = "local",
    db: Annotated[Optional[Path], typer.Option(help="results store (default OUTPUT/results.db)")] = None,
    baseline: Annotated[Optional[str], typer.Option(help="gate every checkpoint against this step (default: the previous checkpoint)")] = None,
    gate_config: Annotated[Optional[Path], typer.Option(help="gate YAML for `medxpert regress --config` (thresholds, min_n, required tasks)", exists=True, dir_okay=False)] = None,
    judge: Annotated[Optional[str], typer.Option(help="judge model: run `medxpert judge` after each checkpoint's model run")] = None,
    judge_base_url: Annotated[Optional[str], typer.Option(help="judge endpoint [env MEDXPERT_JUDGE_BASE_URL]")] = None,
    judge_api_key_env: Annotated[Optional[str], typer.Option(help="NAME of the env var holding the judge key")] = None,
    concurrent: Annotated[Optional[int], typer.Option(min=1, help="checkpoints at a time (local: each on its own GPUs, default 1; slurm: array %N, default no limit)")] = None,
    gpus: Annotated[Optional[str], typer.Option(help="GPUs the local launcher may use, e.g. 0,1,2,3 (default CUDA_VISIBLE_DEVICES)")] = None,
    limit: Annotated[Optional[float], typer.Option(help="questions per task (quick runs)")] = None,
    metadata: Annotated[Optional[str], typer.Option(help='JSON for the tasks, e.g. \'{"data_dir": "/data"}\'')] = None,
    slurm_partition: Annotated[Optional[str], typer.Option(help="sbatch --partition")] = None,
    slurm_time: Annotated[Optional[str], typer.Option(help="sbatch --time")] = None,
    slurm_cpus: Annotated[int, typer.Option(min=1, help="sbatch --cpus-per-task")] = 8,
    slurm_mem: Annotated[Optional[str], typer.Option(help="sbatch --mem")] = None,
    slurm_arg: Annotated[Optional[list[str]], typer.Option(help="extra #SBATCH flag (repeatable), e.g. --account=proj")] = None,
    ray_address: Annotated[Optional[str], typer.Option(help="Ray cluster to join (default: start a local one)")] = None,
    dry_run: Annotated[bool, typer.Option(help="print the checkpoints and each stage's command; run nothing")] = False,
) -> None:
    """Evaluate every checkpoint in step order: harness -> judge -> ingest -> leaderboard -> gate; resumable.

    Arguments after `--` go to the harness unchanged. Rerun the same command after an interruption: finished
    checkpoints are skipped, an interrupted one resumes from the harness cache.
    """
    from rich.console import Console

    from ..profiles import ProfileError, load_profile
    from ..sweep.discover import DiscoverError, discover
    from ..sweep.driver import run_sweep
    from ..sweep.launchers import LaunchError
    from ..sweep.plan import (
        JudgeStage,
        PlanError,
        SlurmOptions,
        SweepPlan,
        checkpoint_dicts,
        describe,
    )

    if harness not in ("lmeval", "opencompass"):
        fail(f"--harness must be lmeval or opencompass, not {harness!r}")
    if launcher not in ("local", "slurm", "ray"):
        fail(f"--launcher must be local, slurm or ray, not {launcher!r}")
    if metadata:
        try:
            json.loads(metadata)
        except json.JSONDecodeError as exc:
            fail(f"--metadata is not valid JSON: {exc.msg}")
    try:
        ckpts = discover(ckpt_dir)
        prof = load_profile(profile)
    except (DiscoverError, ProfileError) as exc:
        fail(str(exc))
    from ..profiles import API_BACKENDS

    if prof.backend not in API_BACKENDS:
        missing = [c.path for c in ckpts if not Path(c.path).is_dir()]
        if missing:
            fail(f"checkpoint folder not found: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    out = output.resolve()
    plan = SweepPlan(
        source=str(ckpt_dir), checkpoints=checkpoint_dicts(ckpts), profile=prof.model_dump(mode="json"),
        tasks=[t.strip() for t in tasks.split(",") if t.strip()], harness=harness, output=str(out),
        db=str((db or out / "results.db").resolve()), baseline=baseline,
        gate_config=str(gate_config.resolve()) if gate_config else None,
        judge=JudgeStage(model=judge, base_url=judge_base_url, api_key_env=judge_api_key_env) if judge else None,
        limit=limit, metadata=metadata, harness_args=list(ctx.args), launcher=launcher,
        concurrent=concurrent or (1 if launcher == "local" else 0),
        gpus=[g.strip() for g in gpus.split(",")] if gpus else [],
        slurm=SlurmOptions(partition=slurm_partition, time=slurm_time, cpus_per_task=slurm_cpus, mem=slurm_mem,
                           extra=list(slurm_arg or [])),
        ray_address=ray_address,
    )  # fmt: skip
    if not plan.tasks:
        fail("--tasks is empty")
    if baseline is not None and not any(baseline in (str(c.step), c.name) for c in ckpts):
        typer.secho(f"note: baseline {baseline!r} is not a checkpoint of this sweep; passed to the gate as a run id/path",
                    fg="yellow", err=True)  # fmt: skip
    if harness == "opencompass":
        import importlib.util

        if importlib.util.find_spec("opencompass") is None:
            fail("--harness opencompass needs OpenCompass: pip install 'medxpert-ext[opencompass]'")
    if dry_run:
        for ckpt, lines in describe(plan):
            typer.echo(f"{ckpt.name} (step {ckpt.step})")
            for line in lines:
                typer.echo(f"  {line}")
        return
    for warning in prof.warnings():
        typer.secho(f"warning: {warning}", fg="yellow", err=True)
    try:
        if launcher == "local":
            from ..sweep.launchers.local import gpu_slots

            gpu_slots(plan)  # refuse an impossible GPU layout before anything starts
        code = run_sweep(plan, Console())
    except (PlanError, LaunchError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        typer.secho("\ninterrupted: rerun the same command to resume (finished work is kept)", fg="yellow", err=True)
        raise typer.Exit(130) from None
    raise typer.Exit(code)


@app.command("sweep-worker", hidden=True)
def sweep_worker(
    plan_file: Annotated[Path, typer.Argument(exists=True, help="sweep-plan.json written by `medxpert sweep`")],
    index: Annotated[int, typer.Argument(help="checkpoint index in the plan ($SLURM_ARRAY_TASK_ID)")],
) -> None:
    """Run one checkpoint's harness (and judge) stages from a saved plan; exit 1 when a stage failed."""
    from ..sweep.plan import SweepPlan
    from ..sweep.runner import run_checkpoint

    plan = SweepPlan.load(plan_file)
    if not 0 <= index < len(plan.checkpoints):
        fail(f"{plan_file}: no checkpoint {index} (the plan has {len(plan.checkpoints)})")
    state = run_checkpoint(plan, index)
    for stage, record in state.stages.items():
        typer.echo(f"{state.name} {stage}: {record.status} {record.message}")
    raise typer.Exit(1 if state.failed() else 0)
