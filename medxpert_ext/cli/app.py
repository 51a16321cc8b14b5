"""The ``medxpert`` Typer app and how every command reports a failure (one red line, exit 2)."""

from __future__ import annotations

from typing import NoReturn

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Medical benchmarks for lm-eval and OpenCompass: MedXpertQA, MedQA/MedMCQA/MMLU-medical, VQA, MedLFQA.",
)


def fail(message: str) -> NoReturn:
    typer.secho(f"medxpert: error: {message}", fg="red", err=True)
    raise typer.Exit(2)
