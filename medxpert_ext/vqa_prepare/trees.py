"""Reading sources in place: a folder or a zip archive (nested zips included) behind one read-only tree interface.

Nothing is unpacked wholesale; source-relative paths are checked so that none can escape the dataset.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections import defaultdict
from contextlib import ExitStack
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import DataError

_MEMORY_ZIP_LIMIT = 1 << 30  # nested zips up to 1 GiB are read into memory (random access); larger ones stream


def _is_junk(name: str) -> bool:
    """macOS archive litter that is never data."""
    parts = name.split("/")
    return "__MACOSX" in parts or parts[-1].startswith("._") or parts[-1] == ".DS_Store"


class _Tree:
    """A read-only file tree (a folder or a zip archive) addressed by posix relative paths.

    One interface for folders and archives lets each converter accept a hub snapshot, an official zip or its
    extracted copy without caring which.
    """

    label: str

    @property
    def names(self) -> list[str]:  # sorted, files only, junk removed
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        raise NotImplementedError

    def open_zip(self, name: str, stack: ExitStack) -> _ZipTree:
        raise NotImplementedError

    def where(self, name: str) -> str:
        """How messages name a file of this tree."""
        raise NotImplementedError

    @cached_property
    def name_set(self) -> frozenset[str]:
        return frozenset(self.names)

    @cached_property
    def _by_basename(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = defaultdict(list)
        for name in self.names:
            index[name.rsplit("/", 1)[-1]].append(name)
        return index

    def with_basename(self, basename: str) -> list[str]:
        """Files called ``basename`` (case-insensitive), shallowest first."""
        wanted = basename.lower()
        hits = [n for b, ns in self._by_basename.items() if b.lower() == wanted for n in ns]
        return sorted(hits, key=lambda n: (n.count("/"), n))

    def resolve(self, relpath: str) -> str | None:
        """The file whose path is ``relpath`` or ends with ``/relpath`` (the shallowest one); None if absent.

        Archives wrap files in one or more folders (``imgs/``, ``Slake1.0/imgs/``, ``images/``...), so a record's
        relative path is matched as a path suffix rather than at a fixed prefix.
        """
        same_name = self._by_basename.get(relpath.rsplit("/", 1)[-1], [])
        candidates = [n for n in same_name if n == relpath or n.endswith("/" + relpath)]
        if not candidates:
            return None
        candidates.sort(key=lambda n: (n.count("/"), n))
        if len(candidates) > 1 and candidates[0].count("/") == candidates[1].count("/"):
            raise DataError(
                f"{self.label}: {relpath!r} matches several files ({', '.join(candidates[:3])}); point SOURCE at a "
                "folder or archive that holds only one copy of the images"
            )
        return candidates[0]


class _DirTree(_Tree):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    @cached_property
    def names(self) -> list[str]:
        out = []
        for dirpath, _dirs, files in os.walk(self.root):
            for f in files:
                rel = (Path(dirpath) / f).relative_to(self.root).as_posix()
                if not _is_junk(rel):
                    out.append(rel)
        return sorted(out)

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def open_zip(self, name: str, stack: ExitStack) -> _ZipTree:
        return _ZipTree(stack.enter_context(_open_zipfile(self.root / name)), str(self.root / name))

    def where(self, name: str) -> str:
        return str(self.root / name)


class _ZipTree(_Tree):
    def __init__(self, zf: zipfile.ZipFile, label: str) -> None:
        self.zf = zf
        self.label = label
        # Archives made on Windows may store "dir\\file"; members are addressed with "/" like everything else.
        self._members = {i.filename.replace("\\", "/"): i.filename for i in zf.infolist() if not i.is_dir()}

    @cached_property
    def names(self) -> list[str]:
        return sorted(n for n in self._members if not _is_junk(n))

    def read(self, name: str) -> bytes:
        return self.zf.read(self._members[name])

    def open_zip(self, name: str, stack: ExitStack) -> _ZipTree:
        label = f"{self.label}!/{name}"
        member = self._members[name]
        if self.zf.getinfo(member).file_size <= _MEMORY_ZIP_LIMIT:
            handle: Any = io.BytesIO(self.zf.read(member))
        else:  # seekable member stream: slower, but a multi-GB nested archive is not loaded into memory
            handle = stack.enter_context(self.zf.open(member))
        return _ZipTree(stack.enter_context(_open_zipfile(handle, label=label)), label)

    def where(self, name: str) -> str:
        return f"{self.label}!/{name}"


def _open_zipfile(file: Any, label: str | None = None) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{label or file}: not a readable zip archive ({exc}); download it again") from None


def _open_source(source: Path, stack: ExitStack) -> _Tree:
    if source.is_dir():
        return _DirTree(source)
    if source.is_file() and zipfile.is_zipfile(source):
        return _ZipTree(stack.enter_context(_open_zipfile(source)), str(source))
    if source.exists():
        raise DataError(f"{source}: SOURCE must be a folder (hub snapshot or extracted archive) or a .zip archive")
    raise DataError(f"{source}: no such file or folder")


def _find_one(tree: _Tree, basename: str, what: str) -> str:
    """The shallowest file called ``basename``; a clear error naming what was found otherwise."""
    hits = tree.with_basename(basename)
    if not hits:
        sample = ", ".join(tree.names[:8]) or "nothing"
        raise DataError(f"{tree.label}: expected {what} ({basename}) but found {sample}")
    if len(hits) > 1 and hits[0].count("/") == hits[1].count("/"):
        raise DataError(f"{tree.label}: several {basename} files ({', '.join(hits[:3])}); point SOURCE at one copy")
    return hits[0]


def _image_tree(tree: _Tree, zip_name: str, stack: ExitStack) -> _Tree:
    """Where a dataset's images live: its image zip when the source has one, else the source itself."""
    hits = tree.with_basename(zip_name)
    return tree.open_zip(hits[0], stack) if hits else tree


def _safe_relpath(value: Any, where: str) -> str:
    """A source-relative image path, normalised; absolute paths and ``..`` are refused (they could escape)."""
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: missing or empty image path")
    text = value.strip().replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise DataError(f"{where}: image path {value!r} is absolute; only paths relative to the dataset are allowed")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts or not parts:
        raise DataError(f"{where}: image path {value!r} escapes the dataset folder ('..' is not allowed)")
    return "/".join(parts)

