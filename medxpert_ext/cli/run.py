"""Commands that run a harness with the pack's tasks: ``lm-eval``, ``tasks-dir``, ``profile``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..harness.lmeval_run import UsageError, run_lm_eval
from ..resources import tasks_dir
from .app import app, fail


@app.command("tasks-dir")
def tasks_dir_cmd() -> None:
    """Print the installed task folder (for lm_eval --include_path)."""
    typer.echo(str(tasks_dir()))


@app.command(
    "lm-eval",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def lm_eval_cmd(ctx: typer.Context) -> None:
    """Drop-in for lm_eval: every flag passes through; our tasks are on the include path.

    Extra flag: --profile NAME|FILE expands a model profile (configs/models/NAME.yaml) into lm-eval flags.
    """
    from ..errors import DataError
    from ..metrics.lfqa import MetricUnavailable
    from ..profiles import ProfileError

    try:
        run_lm_eval(list(ctx.args))
    except (UsageError, ProfileError, DataError, MetricUnavailable) as exc:
        fail(str(exc))


@app.command()
def profile(name: Annotated[str, typer.Argument(help="profile name or YAML path")]) -> None:
    """Show the lm-eval flags a model profile expands to, and its warnings."""
    import shlex

    from ..profiles import ProfileError, lm_eval_args, load_profile

    try:
        p = load_profile(name)
    except ProfileError as exc:
        fail(str(exc))
    flags, metadata = lm_eval_args(p)
    if metadata:
        flags += ["--metadata", json.dumps(metadata)]
    typer.echo("medxpert lm-eval " + " ".join(shlex.quote(f) for f in flags) + " --tasks medxpert")
    for warning in p.warnings():
        typer.secho(f"warning: {warning}", fg="yellow", err=True)


@app.command(
    "opencompass",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def opencompass_cmd(
    ctx: typer.Context,
    config: Annotated[Optional[Path], typer.Argument(help="OpenCompass run config (omit with --profile)")] = None,
    profile: Annotated[Optional[str], typer.Option(help="write the run config from this model profile")] = None,
    datasets: Annotated[Optional[str], typer.Option(help="dataset config modules for --profile, comma-separated [medxpert_gen]")] = None,
    tasks: Annotated[Optional[str], typer.Option(help="or single tasks by name for --profile, comma-separated")] = None,
    limit: Annotated[Optional[int], typer.Option(help="with --profile: first N questions of each task")] = None,
    tokenizer_path: Annotated[Optional[str], typer.Option(help="local tokenizer for OpenAISDK models")] = None,
    data_dir: Annotated[Optional[str], typer.Option(help="local data root [env MEDXPERT_DATA_DIR]")] = None,
    work_dir: Annotated[Path, typer.Option("--work-dir", "-w", help="OpenCompass work dir")] = Path("outputs/medxpert"),
) -> None:
    """Run OpenCompass on a config after a preflight (data files, images, tokenizer) that fails in seconds with
    the pack's own error messages. Extra flags pass through to `opencompass` (e.g. --max-num-workers, -r)."""
    from ..errors import DataError
    from ..harness.opencompass.run import run_opencompass, write_config
    from ..profiles import ProfileError

    try:
        if profile:
            config = write_config(work_dir / "medxpert_run_config.py", profile,
                                  datasets.split(",") if datasets else None,
                                  tasks=tasks.split(",") if tasks else None, limit=limit,
                                  tokenizer_path=tokenizer_path, data_dir=data_dir)  # fmt: skip
            typer.echo(f"medxpert: wrote {config}", err=True)
        elif config is None:
            fail("give an OpenCompass config file, or --profile NAME [--datasets ...]")
        code = run_opencompass(config, ["-w", str(work_dir), *ctx.args])
    except (DataError, ProfileError) as exc:
        fail(str(exc))
    raise typer.Exit(code)
