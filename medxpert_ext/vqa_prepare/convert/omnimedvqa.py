"""OmniMedVQA open-access part: per-dataset QA json files in OmniMedVQA.zip; MCQ (experimental)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ...errors import DataError
from ..images import _file_image, _file_names
from ..trees import _safe_relpath, _Tree
from .common import Item, _options, _text

# One logger for the whole package, under the name it had as a single module (users and tests filter on it).
log = logging.getLogger("medxpert_ext.vqa_prepare")


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _convert_omnimedvqa(name: str, tree: _Tree, stack: ExitStack) -> Iterator[Item]:
    """OmniMedVQA open-access QA json files: label = the option that equals gt_answer (experimental)."""
    marker = "QA_information/Open-access/"
    if not any(marker in n for n in tree.names):
        archive = tree.with_basename("OmniMedVQA.zip")
        if archive:
            tree = tree.open_zip(archive[0], stack)
    files = [n for n in tree.names if marker in f"/{n}" and n.lower().endswith(".json")]
    if not files:
        raise DataError(f"{tree.label}: expected OmniMedVQA's QA_information/Open-access/*.json (inside "
                        f"OmniMedVQA.zip) but found {', '.join(tree.names[:8]) or 'nothing'}")
    required = ("question", "gt_answer", "option_A", "option_B", "image_path")
    kept: list[tuple[str, str, dict[str, Any], dict[str, str], str, str]] = []  # where, root, row, options, label, path
    skipped: Counter[str] = Counter()
    for fname in files:
        where = tree.where(fname)
        prefix = f"/{fname}".split("/" + marker)[0].lstrip("/")  # the archive root the image paths are relative to
        try:
            rows = json.loads(tree.read(fname).decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(rows, list):
            raise DataError(f"{where}: expected a JSON list of questions, got {type(rows).__name__}")
        for j, row in enumerate(rows):
            at = f"{where} (item {j})"
            if not isinstance(row, dict) or any(k not in row for k in required):
                found = ", ".join(row) if isinstance(row, dict) else type(row).__name__
                raise DataError(f"{at}: expected fields {', '.join(required)} but found {found}")
            options = _options({k: str(row.get(f"option_{k}") or "").strip() for k in "ABCD"}, at)
            gt = _norm(str(row["gt_answer"]))
            labels = [k for k, v in options.items() if _norm(v) == gt]
            if len(labels) != 1:
                skipped[f"{Path(fname).stem}: gt_answer matches {len(labels)} options"] += 1
                continue
            kept.append((at, prefix, row, options, labels[0], _safe_relpath(row["image_path"], at)))
    for reason, count in sorted(skipped.items()):
        log.warning("omnimedvqa: skipped %d question(s) (%s)", count, reason)
    names = _file_names((p for *_, p in kept), name)
    missing: list[str] = []
    for i, (at, prefix, row, options, label, path) in enumerate(kept):
        rooted = f"{prefix}/{path}" if prefix else path
        located = next((c for c in (rooted, f"{prefix}/Images/{path}".lstrip("/")) if c in tree.name_set), None)
        if located is None:
            missing.append(f"{path} ({at})")
            continue
        record: dict[str, Any] = {
            "id": str(row.get("question_id") or f"{name}-{i}"),
            "question": _text(row["question"], at, "question"),
            "options": options,
            "label": label,
        }
        for key in ("dataset", "question_type", "modality_type"):
            if row.get(key) is not None:
                record[key] = row[key]
        yield record, _file_image(tree, located, names[path])
    if missing:
        raise DataError(f"{tree.label}: {len(missing)} image(s) named by the QA files are missing, e.g. "
                        f"{'; '.join(missing[:3])}; use the complete OmniMedVQA.zip")

