"""Quilt-VQA: hub parquet with the dataset's own CLOSED/OPEN label and an optional yes/no short answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from ...errors import DataError
from ..sources import SOURCES
from ..trees import _Tree
from .common import YES_NO, Item, _parquet_image, _parquet_rows, _text


def _convert_quilt(name: str, tree: _Tree, stack: ExitStack) -> Iterator[Item]:
    """Quilt-VQA hub parquet: the dataset's own CLOSED/OPEN; a yes/no short answer wins for closed rows."""
    for where, i, row in _parquet_rows(tree, SOURCES[name].split, ("image", "question", "answer", "answer_type")):
        at = f"{where} (row {i})"
        kind = _text(row.get("answer_type"), at, "answer_type").lower()
        if kind not in ("closed", "open", "other"):
            raise DataError(f"{at}: answer_type {row.get('answer_type')!r} is not CLOSED/OPEN")
        kind = "closed" if kind == "closed" else "open"
        answer = _text(row.get("answer"), at, "answer")
        record: dict[str, Any] = {"id": str(row.get("id") or row.get("question_id") or f"{name}-{i}")}
        record["question"] = _text(row.get("question"), at, "question")
        short = str(row.get("yes_no_answer") or "").strip()
        if kind == "closed" and short.lower() in YES_NO:
            record.update(answer=short, answer_type=kind, explanation=answer)
        else:
            record.update(answer=answer, answer_type=kind)
        yield record, _parquet_image(row, at)

