"""``medxpert ingest`` and ``medxpert leaderboard``: one store and one table over lm-eval and OpenCompass outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app, fail

DB_HELP = "results store: an SQLite file path or a database URL (postgresql://user@host/db) [env MEDXPERT_DB; default ./medxpert_results.db]"
FORMATS = ("table", "csv", "md", "html", "json")


def _open(db: Optional[str]):
    try:
        from ..results.store import Store, StoreError
    except ImportError as exc:
        fail(f"the results store needs the [results] extra ({exc.name} missing): pip install 'medxpert-ext[results]'")
    try:
        return Store.open(db)
    except StoreError as exc:
        fail(str(exc))


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="lm-eval output folders/results_*.json, OpenCompass work dirs; read recursively")],
    db: Annotated[Optional[str], typer.Option(help=DB_HELP)] = None,
    quiet: Annotated[bool, typer.Option(help="print only errors and the summary line")] = False,
) -> None:
    """Store harness outputs (idempotent: an output already stored changes nothing). Exit 1 if any file failed."""
    from ..results.ingest import ingest_paths

    store = _open(db)
    with store:
        report = ingest_paths(store, paths)
        counts = store.counts()
    if not quiet:
        for note in report.notes:
            typer.secho(f"note: {note}", fg="yellow", err=True)
    for err in report.errors:
        typer.secho(f"medxpert: error: {err}", fg="red", err=True)
    skipped = f", {report.skipped} unknown files skipped" if report.skipped else ""
    orphans = f", {report.orphan_samples} samples files without their results file skipped" if report.orphan_samples else ""
    typer.echo(f"ingested {report.added} new runs ({report.existing} already stored){skipped}{orphans}; "
               f"{len(report.errors)} failed; store {store.url} now has {counts['run']} runs, {counts['score']} scores, "
               f"{counts['sample']} samples")  # fmt: skip
    if report.errors:
        raise typer.Exit(1)


@app.command()
def leaderboard(
    db: Annotated[Optional[str], typer.Option(help=DB_HELP)] = None,
    tasks: Annotated[Optional[str], typer.Option(help="comma-separated tasks/groups or globs (medxpert takes medxpert_*)")] = None,
    models: Annotated[Optional[str], typer.Option(help="comma-separated model names or globs")] = None,
    by: Annotated[str, typer.Option(help="one row per run | checkpoint (model+step, newest run per task) | model (newest)")] = "checkpoint",
    format: Annotated[str, typer.Option("--format", "-f", help="table | csv | md | html | json")] = "table",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="write to this file instead of stdout")] = None,
    published: Annotated[bool, typer.Option(help="add the published reference rows (MedXpertQA paper)")] = True,
) -> None:
    """Scores of every stored run side by side, in percent, with stderr, no-answer share and harness."""
    from ..results import formats
    from ..results import leaderboard as lbmod

    if format not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    if by not in lbmod.BY:
        fail(f"--by must be one of {', '.join(lbmod.BY)}")
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()] if s else None  # noqa: E731
    store = _open(db)
    with store:
        lb = lbmod.build(store, by=by, tasks=split(tasks), models=split(models), published=published)
        if not any(not r.published for r in lb.rows):
            typer.secho("medxpert: no stored runs match (ingest some with `medxpert ingest PATH`)", fg="yellow", err=True)
        if format == "table" and output is None:
            formats.to_table(lb)
            return
        if format == "html":
            from ..results.render_html import render

            text = render(store, lb)
        else:
            text = {"table": _table_text, "csv": formats.to_csv, "md": formats.to_markdown, "json": formats.to_json}[format](lb)
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


def _table_text(lb) -> str:
    import io

    from rich.console import Console

    from ..results.formats import to_table

    console = Console(record=True, width=240, file=io.StringIO())
    to_table(lb, console)
    return console.export_text()
