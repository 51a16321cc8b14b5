"""``medxpert data prepare|verify``: convert downloaded VQA datasets into the local layout and check them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app, fail

data_app = typer.Typer(help="Prepare and check local datasets (medical VQA).", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _data_root(root: Optional[Path]) -> Path:
    from ..data import DATA_DIR_ENV, resolve_data_dir

    resolved = resolve_data_dir(root) if root else resolve_data_dir()
    if resolved is None:
        fail(f"give --root or set {DATA_DIR_ENV}")
    return resolved


@data_app.command("prepare")
def data_prepare(
    name: Annotated[str, typer.Argument(help="vqarad | slake | pathvqa | pmcvqa | vqamed2021 | quiltvqa | omnimedvqa")],
    source: Annotated[Optional[Path], typer.Argument(help="downloaded hub snapshot folder or official archive; omit to download from the hub")] = None,
    root: Annotated[Optional[Path], typer.Option(help="data root [env MEDXPERT_DATA_DIR]")] = None,
) -> None:
    """Convert a dataset into the local layout <root>/vqa/NAME/ (test.jsonl, images/, SHA256SUMS)."""
    from ..data import DataError
    from ..vqa_prepare import download_and_prepare, prepare

    target_root = root or _data_root(None)
    try:
        folder = prepare(name, source, target_root) if source else download_and_prepare(name, target_root)
    except DataError as exc:
        fail(str(exc))
    rows = sum(1 for line in (folder / "test.jsonl").open() if line.strip())
    typer.echo(f"{folder}: {rows} questions, checksums in {folder / 'SHA256SUMS'}")


@data_app.command("verify")
def data_verify(
    name: Annotated[str, typer.Argument(help="dataset name")],
    root: Annotated[Optional[Path], typer.Option(help="data root [env MEDXPERT_DATA_DIR]")] = None,
) -> None:
    """Check a prepared dataset against its SHA256SUMS."""
    from ..data import VQA_DIR, DataError
    from ..vqa_prepare import verify

    folder = _data_root(root) / VQA_DIR / name
    try:
        verify(folder)
    except DataError as exc:
        fail(str(exc))
    typer.echo(f"{folder}: ok")
