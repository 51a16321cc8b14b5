"""Helpers shared by the converters: field checks, MCQ options and hub parquet rows with embedded images."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from typing import Any

from ...errors import DataError
from ..images import _embedded_image, _Image
from ..trees import _DirTree, _Tree

YES_NO = frozenset({"yes", "no"})

# Each converter yields (record without "image", image) in a deterministic order.
Item = tuple[dict[str, Any], _Image]


def _text(value: Any, where: str, field: str) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None / NaN  # noqa: PLR0124
        raise DataError(f"{where}: missing {field!r}")
    text = str(value).strip()
    if not text:
        raise DataError(f"{where}: empty {field!r}")
    return text


def _parquet_files(tree: _Tree, split: str) -> list[str]:
    """Parquet shards of one split: ``data/<split>-*.parquet`` (hub) or ``<split>/*.parquet`` (parquet-converter)."""
    parquet = [n for n in tree.names if n.endswith(".parquet")]
    files = [
        n for n in parquet if n.rsplit("/", 1)[-1].startswith((f"{split}-", f"{split}.")) or f"/{split}/" in f"/{n}"
    ]
    if not files:
        found = ", ".join(parquet[:8]) or "no parquet files at all"
        raise DataError(
            f"{tree.label}: expected parquet files of split {split!r} (data/{split}-*.parquet) but found {found}"
        )
    return files


def _parquet_rows(tree: _Tree, split: str, required: tuple[str, ...]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(where, row index across shards, row) for every row of a split; columns are checked before reading."""
    import pyarrow.parquet as pq

    index = 0
    for name in _parquet_files(tree, split):
        where = tree.where(name)
        pf = pq.ParquetFile(str(tree.root / name) if isinstance(tree, _DirTree) else io.BytesIO(tree.read(name)))
        columns = pf.schema_arrow.names
        missing = [c for c in required if c not in columns]
        if missing:
            raise DataError(f"{where}: expected columns {', '.join(required)} but found {', '.join(columns)} "
                            f"(missing {', '.join(missing)}); is this the right dataset?")
        for batch in pf.iter_batches(batch_size=256):
            for row in batch.to_pylist():
                yield where, index, row
                index += 1


def _parquet_image(row: Mapping[str, Any], where: str) -> _Image:
    value = row.get("image")
    if isinstance(value, Mapping) and value.get("bytes"):
        return _embedded_image(bytes(value["bytes"]), value.get("path"))
    if isinstance(value, (bytes, bytearray)) and value:
        return _embedded_image(bytes(value), None)
    raise DataError(f"{where}: 'image' holds no embedded bytes (got {type(value).__name__}); use the hub parquet files")


def _options(values: Mapping[str, str], where: str) -> dict[str, str]:
    """Non-empty options in letter order; a gap (A, B, D) is an error, trailing empty options are dropped."""
    letters = [k for k in sorted(values) if values[k]]
    if len(letters) < 2 or "".join(letters) != "ABCDEFGHIJ"[: len(letters)]:
        raise DataError(f"{where}: options must run A, B, ... without gaps, got {', '.join(letters) or 'none'}")
    return {k: values[k] for k in letters}

