"""PMC-VQA test-clean: test_clean.csv next to the 18.9 GB images.zip (read in place); 4-option MCQ."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from ...errors import DataError
from ..images import _file_image, _file_names
from ..sources import SOURCES
from ..trees import _find_one, _image_tree, _safe_relpath, _Tree
from .common import Item, _options, _text

_CHOICE_PREFIX = re.compile(r"^\s*([A-Z])\s*[:.)]\s*")


def _choice(value: Any, letter: str) -> str:
    """PMC-VQA writes choices as 'A:Diffuse uptake' (sometimes ' A: ...'); the prefix is not part of the option."""
    text = "" if value is None else str(value).strip()
    m = _CHOICE_PREFIX.match(text)
    return text[m.end():].strip() if m and m.group(1) == letter else text



def _convert_pmcvqa(name: str, tree: _Tree, stack: ExitStack) -> Iterator[Item]:
    """PMC-VQA test_clean.csv + images.zip: 4-option MCQ, question without the choices."""
    csv_name = _find_one(tree, "test_clean.csv", "the PMC-VQA test-clean metafile")
    where = tree.where(csv_name)
    reader = csv.DictReader(io.StringIO(tree.read(csv_name).decode("utf-8-sig"), newline=""))
    required = ("Figure_path", "Question", "Choice A", "Choice B", "Choice C", "Choice D", "Answer_label")
    columns = [c for c in (reader.fieldnames or []) if c]
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataError(f"{where}: expected columns {', '.join(required)} but found {', '.join(columns) or 'none'} "
                        f"(missing {', '.join(missing)}); use test_clean.csv from {SOURCES[name].repo}")
    rows = [(i, row, _safe_relpath(row["Figure_path"], f"{where} (row {i})")) for i, row in enumerate(reader)]
    images = _image_tree(tree, "images.zip", stack)
    names = _file_names((p for _, _, p in rows), name)
    for i, row, path in rows:
        at = f"{where} (row {i})"
        options = _options({k: _choice(row.get(f"Choice {k}"), k) for k in "ABCD"}, at)
        label = str(row.get("Answer_label") or "").strip().upper()
        if label not in options:
            raise DataError(f"{at}: Answer_label {row.get('Answer_label')!r} is not one of {', '.join(options)}")
        located = images.resolve(path)
        if located is None:
            raise DataError(f"{at}: figure {path!r} not found in {images.label}; PMC-VQA figures come in images.zip")
        record = {
            "id": str(row.get("index") or "").strip() or f"{name}-{i}",
            "question": _text(row.get("Question"), at, "Question"),
            "options": options,
            "label": label,
        }
        yield record, _file_image(images, located, names[path])

