"""SLAKE: test.json next to imgs.zip (or the official Slake1.0 folder/zip); English questions only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from ...errors import DataError
from ..images import _file_image, _file_names
from ..trees import _find_one, _image_tree, _safe_relpath, _Tree
from .common import Item, _text


def _convert_slake(name: str, tree: _Tree, stack: ExitStack) -> Iterator[Item]:
    """SLAKE test.json + imgs.zip: English rows only, SLAKE's own answer_type, id = qid."""
    json_name = _find_one(tree, "test.json", "the SLAKE test questions")
    where = tree.where(json_name)
    try:
        rows = json.loads(tree.read(json_name).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(rows, list):
        raise DataError(f"{where}: expected a JSON list of questions, got {type(rows).__name__}")
    required = ("img_name", "question", "answer", "answer_type", "q_lang")
    kept: list[tuple[int, dict[str, Any], str]] = []
    for i, row in enumerate(rows):
        at = f"{where} (item {i})"
        if not isinstance(row, dict) or any(k not in row for k in required):
            found = ", ".join(row) if isinstance(row, dict) else type(row).__name__
            raise DataError(f"{at}: expected fields {', '.join(required)} but found {found}")
        if row["q_lang"] == "en":
            kept.append((i, row, _safe_relpath(row["img_name"], at)))
    images = _image_tree(tree, "imgs.zip", stack)
    names = _file_names((p for _, _, p in kept), name)
    for i, row, path in kept:
        at = f"{where} (item {i}, qid {row.get('qid')})"
        kind = _text(row["answer_type"], at, "answer_type").lower()
        if kind not in ("open", "closed"):
            raise DataError(f"{at}: answer_type {row['answer_type']!r} is not OPEN/CLOSED")
        located = images.resolve(path)
        if located is None:
            raise DataError(f"{at}: image {path!r} not found in {images.label}; SLAKE images come in imgs.zip")
        record = {
            "id": str(row["qid"]) if row.get("qid") is not None else f"{name}-{i}",
            "question": _text(row["question"], at, "question"),
            "answer": _text(row["answer"], at, "answer"),
            "answer_type": kind,
        }
        yield record, _file_image(images, located, names[path])

