"""Image naming: flat, sanitised output names, format sniffing of embedded bytes, and the image a record needs."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from .trees import _Tree

_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


def _sanitize(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    return "_" + clean[1:] if clean.startswith(".") else clean


def _file_names(paths: Iterable[str], dataset: str) -> dict[str, str]:
    """Output file names for source-relative image paths: the file's own name when unique, else its flattened path.

    ``xmlab102/source.jpg`` (every SLAKE image is ``source.jpg``) becomes ``xmlab102_source.jpg``; a name that
    still collides falls back to ``<dataset>-<index><suffix>``. Deterministic for a given list of paths.
    """
    unique = list(dict.fromkeys(paths))
    base = {p: _sanitize(p.rsplit("/", 1)[-1]) for p in unique}
    counts = Counter(base.values())
    names = {p: base[p] if counts[base[p]] == 1 else _sanitize(p.replace("/", "_")) for p in unique}
    clashes = Counter(names.values())
    for i, p in enumerate(unique):
        if clashes[names[p]] > 1:
            names[p] = f"{dataset}-{i}{PurePosixPath(p).suffix}"
    return names


def _sniff_suffix(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return ".tif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    if data[:2] == b"BM":
        return ".bmp"
    return None


@dataclass
class _Image:
    """One image a record needs: ``key`` identifies the source bytes (shared images are written once)."""

    key: str
    name: str | None  # output file name; None = ``<dataset>-<row>.<sniffed suffix>`` (embedded images)
    read: Callable[[], bytes]
    hint: str = ""  # source path, used only for the suffix of embedded images when sniffing fails


def _file_image(tree: _Tree, path: str, name: str) -> _Image:
    return _Image(key=f"file:{tree.where(path)}", name=name, read=lambda: tree.read(path))


def _embedded_image(data: bytes, hint: str | None) -> _Image:
    return _Image(key="sha256:" + hashlib.sha256(data).hexdigest(), name=None, read=lambda: data, hint=hint or "")

