"""``medxpert regress BASE CAND``: the CI gate between two runs (exit 0 ok, 1 regression, 2 could not compare)."""

from __future__ import annotations

import io
import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app, fail


class Format(str, Enum):
    table = "table"
    md = "md"
    json = "json"


@app.command()
def regress(
    base: Annotated[str, typer.Argument(help="baseline run: lm-eval --output_path folder, results_*.json or samples_*.jsonl")],
    cand: Annotated[str, typer.Argument(help="candidate run (same kinds of reference)")],
    config: Annotated[Optional[Path], typer.Option("--config", help="gate YAML (alpha, max_drop, required, min_n, tasks: {name: {max_drop}})", exists=True, dir_okay=False)] = None,
    fmt: Annotated[Format, typer.Option("--format", help="output format")] = Format.table,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="write the report here (the table still goes to the terminal)")] = None,
    alpha: Annotated[Optional[float], typer.Option(help="family-wise false-alarm rate, Holm over all gated rows [0.05]")] = None,
    max_drop: Annotated[Optional[float], typer.Option(help="largest tolerated drop in points [1.0]")] = None,
    require: Annotated[Optional[list[str]], typer.Option(help="task/group both runs must have (repeat; default: all of BASE's)")] = None,
    min_n: Annotated[Optional[int], typer.Option(help="fewest paired samples to gate a task [100]")] = None,
    metric: Annotated[Optional[list[str]], typer.Option(help="metric to gate (repeat; default: each task's primary metrics)")] = None,
    max_format_rise: Annotated[Optional[float], typer.Option(help="largest tolerated rise of unreadable answers, points [2.0]")] = None,
    allow_subset: Annotated[Optional[bool], typer.Option("--allow-subset/--no-allow-subset", help="compare on common samples when the sample sets differ")] = None,
    resamples: Annotated[Optional[int], typer.Option(help="bootstrap resamples (>= 10,000) [10000]")] = None,
    seed: Annotated[Optional[int], typer.Option(help="bootstrap seed [0]")] = None,
    filter_name: Annotated[Optional[str], typer.Option("--filter", help="lm-eval filter to read when a task has several")] = None,
    db: Annotated[Optional[str], typer.Option(help="results store (path or URL): BASE/CAND may then be run ids, step:N, checkpoint-N, or paths ingested on the fly [env MEDXPERT_DB]")] = None,
) -> None:  # fmt: skip
    """Is CAND worse than BASE? Paired per-sample tests per task and group, with a decision for CI."""
    try:
        import scipy.stats  # noqa: F401
    except ImportError:
        fail("medxpert regress needs scipy: pip install 'medxpert-ext[regress]'")
    from ..errors import DataError
    from ..regress import evaluate, load_config, load_run
    from ..regress.report import render_json, render_markdown, render_table

    overrides = {"alpha": alpha, "max_drop": max_drop, "required": require, "min_n": min_n, "metrics": metric,
                 "max_format_rise": max_format_rise, "allow_subset": allow_subset, "resamples": resamples,
                 "seed": seed}  # fmt: skip
    if db is not None or os.environ.get("MEDXPERT_DB"):
        from ..regress.inputs import register_reader
        from ..regress.store_reader import store_reader

        register_reader(store_reader(db))
    try:
        cfg = load_config(config, overrides)
        base_run = load_run(base, filter_name=filter_name)
        cand_run = load_run(cand, filter_name=filter_name)
    except DataError as exc:
        fail(str(exc))
    result = evaluate(base_run, cand_run, cfg)

    if fmt is Format.table:
        from rich.console import Console

        buf = io.StringIO()
        render_table(result, Console(file=buf, width=200, no_color=True, highlight=False))
        text = buf.getvalue()
    else:
        text = render_markdown(result) if fmt is Format.md else render_json(result) + "\n"
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        render_table(result)
    elif fmt is Format.table:
        render_table(result)
    else:
        typer.echo(text, nl=False)
    raise typer.Exit(result.exit_code)
