"""VQA-RAD and PathVQA: hub parquet with embedded images; closed iff the answer is yes/no."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

from ..sources import SOURCES
from ..trees import _Tree
from .common import YES_NO, Item, _parquet_image, _parquet_rows, _text


def _closed_if_yes_no(answer: str) -> str:
    return "closed" if answer.strip().lower() in YES_NO else "open"



def _convert_hub_yes_no(name: str, tree: _Tree, stack: ExitStack) -> Iterator[Item]:
    """VQA-RAD / PathVQA hub parquet: image, question, answer; closed iff the answer is yes/no."""
    for where, i, row in _parquet_rows(tree, SOURCES[name].split, ("image", "question", "answer")):
        at = f"{where} (row {i})"
        answer = _text(row.get("answer"), at, "answer")
        record = {
            "id": f"{name}-{i}",
            "question": _text(row.get("question"), at, "question"),
            "answer": answer,
            "answer_type": _closed_if_yes_no(answer),
        }
        yield record, _parquet_image(row, at)

