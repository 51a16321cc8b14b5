"""Medical VQA docs: the prepared, checksum-verified folders of ``medxpert data prepare`` read as normalised docs.

Multiple-choice VQA sets (PMC-VQA, OmniMedVQA) become ordinary MCQ docs with one image; the others keep their
short reference answer(s) and whether the question is closed (yes/no) or open.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DataError
from .files import cache_root, read_jsonl_numbered, resolve_data_dir
from .mcq import image_path, mcq_doc

VQA_DIR = "vqa"
VQA_ANSWER_TYPES = ("closed", "open")


def vqa_folder(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The prepared, checksum-verified folder of one VQA dataset (downloaded from the hub when no root is set)."""
    from ..vqa_prepare import SOURCES, download_and_prepare, verify

    if name not in SOURCES:
        raise DataError(f"unknown VQA dataset {name!r}; known: {', '.join(sorted(SOURCES))}")
    root = resolve_data_dir(data_dir)
    if root is None:
        folder = cache_root() / VQA_DIR / name
        if not (folder / "test.jsonl").is_file():
            download_and_prepare(name, cache_root())
    else:
        folder = root / VQA_DIR / name
        if not (folder / "test.jsonl").is_file():
            raise DataError(
                f"missing {folder / 'test.jsonl'} (data root {root}); convert the downloaded dataset with "
                f"`medxpert data prepare {name} <snapshot folder or archive> --root {root}`"
            )
    verify(folder)
    return folder


def vqa_doc(row: Mapping[str, Any], *, source: str, mcq: bool, images_dir: Path, where: str, fallback_id: str):
    """One normalised VQA doc. Multiple-choice sets become ordinary MCQ docs (one image)."""
    image = row.get("image")
    if not isinstance(image, str) or not image:
        raise DataError(f"{where}: missing 'image' (a file name under {images_dir})")
    if mcq:
        doc = mcq_doc({**row, "images": [image]}, source=source, where=where, fallback_id=fallback_id)
    else:
        question, answer, kind = row.get("question"), row.get("answer"), row.get("answer_type")
        if not isinstance(question, str) or not question.strip():
            raise DataError(f"{where}: missing or empty 'question'")
        if not isinstance(answer, str) or not answer.strip():
            raise DataError(f"{where}: missing or empty 'answer'")
        if kind not in VQA_ANSWER_TYPES:
            raise DataError(f"{where}: 'answer_type' must be one of {VQA_ANSWER_TYPES}, got {kind!r}")
        answers = row.get("answers") or [answer]
        doc = {
            "id": str(row.get("id") or fallback_id),
            "source": source,
            "question": question.strip(),
            "answer": answer.strip(),
            "answers": [str(a) for a in answers],
            "answer_type": kind,
            "images": [image],
        }
    doc["images"] = [image_path(images_dir, image, where=f"{where}, sample {doc['id']}")]
    return doc


def load_vqa_docs(name: str, data_dir: str | os.PathLike | None = None, *, answer_type: str | None = None):
    """Normalised docs of one VQA dataset, optionally only its closed or open questions."""
    from ..vqa_prepare import SOURCES

    folder = vqa_folder(name, data_dir)
    path = folder / "test.jsonl"
    docs = []
    seen: dict[str, int] = {}
    for i, (lineno, row) in enumerate(read_jsonl_numbered(path)):
        doc = vqa_doc(row, source=f"vqa_{name}", mcq=SOURCES[name].mcq, images_dir=folder / "images",
                      where=f"{path}:{lineno}", fallback_id=f"{name}-{i}")  # fmt: skip
        if doc["id"] in seen:
            raise DataError(f"{path}:{lineno}: duplicate id {doc['id']!r} (first at line {seen[doc['id']]})")
        seen[doc["id"]] = lineno
        if answer_type is None or doc.get("answer_type") == answer_type:
            docs.append(doc)
    if not docs:
        raise DataError(f"{path}: no {answer_type or ''} questions".replace("  ", " "))
    return docs
