"""Where a task's questions came from, recorded in every results file so a number can be traced to its data.

Harness-neutral: the lm-eval adapter stores it in the task's metadata (lm-eval writes that into the results
file's ``configs``); the OpenCompass adapter and the sweep call the same :func:`provenance`.

A local root is described by its path and the SHA-256 of every file the task reads (for a prepared VQA set,
its ``SHA256SUMS`` file, which pins every image; for MedXpertQA MM images, the folder and the image count, since
hashing 2,852 images on every run costs more than the run's first minute). The hub is described by repository,
pinned revision, config and split.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .files import resolve_data_dir
from .lfqa import MEDLFQA_REPO, MEDLFQA_REVISION, MEDLFQA_SUBSETS
from .mcq import HUB, IMAGES_DIR, LOCAL_FILES, Benchmark


@dataclass(frozen=True)
class DataSpec:
    """What one task reads: an MCQ benchmark, a prepared VQA set (optionally one answer type) or a MedLFQA subset."""

    kind: str  # "mcq" | "vqa" | "lfqa"
    bench: Benchmark | None = None  # kind == "mcq"
    name: str | None = None  # VQA dataset or MedLFQA subset
    answer_type: str | None = None  # VQA "closed" / "open"

    def local_files(self, root: Path) -> list[Path]:
        """The files of a local root this spec reads (the first one that exists is used for sampled subsets)."""
        if self.kind == "mcq":
            assert self.bench is not None
            if self.bench.sampled and (root / LOCAL_FILES[f"medxpertqa_{self.bench.sampled}"]).is_file():
                return [root / LOCAL_FILES[f"medxpertqa_{self.bench.sampled}"]]
            return [root / LOCAL_FILES[self.bench.key]]
        if self.kind == "vqa":
            return [root / "vqa" / str(self.name) / "test.jsonl", root / "vqa" / str(self.name) / "SHA256SUMS"]
        return [root / "medlfqa" / f"{self.name}.jsonl"]


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    st = path.stat()
    return _sha256(str(path), st.st_size, st.st_mtime_ns)


def provenance(spec: DataSpec, data_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """A JSON-ready record of the data behind one task: local root + file checksums, or hub id + revision."""
    root = resolve_data_dir(data_dir)
    if root is None:
        return {"source": "hub", **_hub(spec)}
    files = {}
    for path in spec.local_files(root):
        if path.is_file():
            files[str(path.relative_to(root))] = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
    out: dict[str, Any] = {"source": "local", "data_root": str(root), "files": files}
    if spec.kind == "mcq" and spec.bench is not None and spec.bench.key == "medxpertqa_mm":
        images = root / IMAGES_DIR
        out["images"] = {"dir": IMAGES_DIR, "count": sum(1 for _ in images.iterdir()) if images.is_dir() else 0}
    if spec.answer_type:
        out["answer_type"] = spec.answer_type
    return out


def _hub(spec: DataSpec) -> dict[str, Any]:
    if spec.kind == "mcq":
        assert spec.bench is not None
        src = HUB[spec.bench.key]
        extra = {"sampled": spec.bench.sampled} if spec.bench.sampled else {}
        return {"repo": src.repo, "revision": src.revision, "config": src.config, "split": src.split, **extra}
    if spec.kind == "lfqa":
        return {"repo": MEDLFQA_REPO, "revision": MEDLFQA_REVISION, "file": MEDLFQA_SUBSETS[str(spec.name)][0]}
    from ..vqa_prepare import SOURCES

    src = SOURCES[str(spec.name)]
    return {k: v for k, v in {"dataset": spec.name, "repo": getattr(src, "repo", None),
                              "revision": getattr(src, "revision", None)}.items() if v is not None}  # fmt: skip
