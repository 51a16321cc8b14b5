"""Writing a prepared folder (records, images, SHA256SUMS), verifying it, and swapping it in atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import DataError
from .images import _IMAGE_SUFFIXES, _Image, _sniff_suffix

# One logger for the whole package, under the name it had as a single module (users and tests filter on it).
log = logging.getLogger("medxpert_ext.vqa_prepare")

CHECKSUMS = "SHA256SUMS"
RECORDS = "test.jsonl"
IMAGES = "images"


class _Writer:
    """Writes each distinct image once, under a unique flat name, and collects the records."""

    def __init__(self, folder: Path, dataset: str) -> None:
        self.images = folder / IMAGES
        self.images.mkdir(parents=True)
        self.dataset = dataset
        self.by_key: dict[str, str] = {}
        self.used: set[str] = set()
        self.records: list[dict[str, Any]] = []
        self.ids: Counter[str] = Counter()

    def add(self, record: dict[str, Any], image: _Image) -> None:
        row = len(self.records)
        name = self.by_key.get(image.key)
        if name is None:
            data = image.read()
            name = image.name
            if name is None:  # embedded bytes: <dataset>-<row>.<suffix from the bytes>
                suffix = _sniff_suffix(data) or PurePosixPath(image.hint).suffix.lower()
                if suffix not in _IMAGE_SUFFIXES:
                    raise DataError(f"{self.dataset} record {record['id']}: image bytes are not a known image format")
                name = f"{self.dataset}-{row}{suffix}"
            if name in self.used or "/" in name or name in ("", ".", ".."):
                name = f"{self.dataset}-{row}{PurePosixPath(name).suffix}"
            (self.images / name).write_bytes(data)
            self.by_key[image.key] = name
            self.used.add(name)
        self.ids[record["id"]] += 1
        if self.ids[record["id"]] > 1:  # keep ids unique and deterministic even if a source repeats one
            log.warning("%s: duplicate source id %r renamed", self.dataset, record["id"])
            record["id"] = f"{record['id']}-{self.ids[record['id']]}"
        self.records.append({**record, "image": name})

    def finish(self, folder: Path) -> None:
        with open(folder / RECORDS, "w", encoding="utf-8", newline="\n") as fh:
            for record in self.records:  # noqa: FURB122 (kept as in the single-module original)
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _manifest_files(folder: Path) -> list[str]:
    images = folder / IMAGES
    names = sorted(p.name for p in images.iterdir() if p.is_file()) if images.is_dir() else []
    return [RECORDS] + [f"{IMAGES}/{n}" for n in names]


def write_checksums(folder: Path) -> Path:
    """Write ``folder/SHA256SUMS`` for test.jsonl and every file in images/ (``sha256sum -c`` reads it)."""
    folder = Path(folder)
    if not (folder / RECORDS).is_file():
        raise DataError(f"{folder}: no {RECORDS} to checksum")
    lines = [f"{_sha256(folder / rel)}  {rel}\n" for rel in _manifest_files(folder)]
    out = folder / CHECKSUMS
    out.write_text("".join(lines), encoding="utf-8", newline="\n")
    return out


def _read_checksums(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        m = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](.+)", line)
        if not m or ".." in m.group(2).split("/") or m.group(2).startswith("/"):
            raise DataError(f"{path}:{n}: not a sha256sum line ({line[:80]!r}); re-run `medxpert data prepare`")
        entries[m.group(2)] = m.group(1).lower()
    return entries


def verify(folder: str | os.PathLike[str]) -> None:
    """Check a prepared folder against its SHA256SUMS; raise :class:`DataError` naming missing/changed files.

    Run by the loader before it reads a folder: a hand-edited record or a replaced image would otherwise change
    scores silently.
    """
    folder = Path(folder)
    name = folder.name
    fix = f"re-run `medxpert data prepare {name} <source>` to rebuild it"
    if not folder.is_dir():
        raise DataError(f"prepared VQA folder {folder} does not exist; {fix}")
    manifest = folder / CHECKSUMS
    if not manifest.is_file():
        raise DataError(f"{folder}: no {CHECKSUMS} (the folder was not written by `medxpert data prepare`); {fix}")
    entries = _read_checksums(manifest)
    if RECORDS not in entries:
        raise DataError(f"{manifest}: does not list {RECORDS}; {fix}")
    missing, changed = [], []
    for rel, digest in sorted(entries.items()):
        path = folder / rel
        if not path.is_file():
            missing.append(rel)
        elif _sha256(path) != digest:
            changed.append(rel)
    if missing or changed:
        parts = []
        for label, files in (("missing", missing), ("changed", changed)):
            if files:
                more = f" (+{len(files) - 5} more)" if len(files) > 5 else ""
                parts.append(f"{label}: {', '.join(files[:5])}{more}")
        raise DataError(f"{folder}: {len(missing) + len(changed)} file(s) fail the {CHECKSUMS} check "
                        f"({'; '.join(parts)}); the prepared data was modified or is incomplete; {fix}")
    _check_images_listed(folder, entries, fix)
    listed = set(entries)
    extra = [rel for rel in _manifest_files(folder) if rel not in listed]
    if extra:
        log.warning("%s: %d file(s) not in %s are ignored (e.g. %s)", folder, len(extra), CHECKSUMS, extra[0])


def _check_images_listed(folder: Path, entries: Mapping[str, str], fix: str) -> None:
    """Every image a record names must be covered by the manifest (else a checksum could not protect it)."""
    with open(folder / RECORDS, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                image = json.loads(line).get("image")
            except (json.JSONDecodeError, AttributeError):
                raise DataError(f"{folder / RECORDS}:{lineno}: not a JSON object; {fix}") from None
            if not isinstance(image, str) or f"{IMAGES}/{image}" not in entries:
                raise DataError(f"{folder / RECORDS}:{lineno}: image {image!r} is not listed in {CHECKSUMS}; {fix}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap_in(new: Path, target: Path) -> None:
    """Replace ``target`` by ``new`` with renames (the old folder is removed only once the new one is in place)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        if old is not None:
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

