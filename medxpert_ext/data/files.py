"""Where benchmark files come from and how they are read: the local data root and the one JSONL reader.

Every loader of the pack (MCQ, VQA, MedLFQA) and every reader of lm-eval samples files goes through here, so a
bad line is reported the same way everywhere: the file and the line number.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from ..errors import DataError

DATA_DIR_ENV = "MEDXPERT_DATA_DIR"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The local data root in force: an explicit value (lm-eval metadata) wins over the environment.

    ``None`` means "read from the hub". A root that does not exist is an error, not a fallback.
    """
    value = data_dir if data_dir not in (None, "") else os.environ.get(DATA_DIR_ENV) or None
    if value is None:
        return None
    root = Path(value).expanduser()
    if not root.is_absolute():
        root = Path.cwd() / root
    if not root.is_dir():
        raise DataError(f"data root {root} (from {'data_dir' if data_dir else DATA_DIR_ENV}) is not a directory")
    return root.resolve()


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every non-blank line. Every JSONL reader of the pack (benchmark files, lm-eval
    samples files) goes through here, so every defect is a DataError naming file:LINE (the file line, not a
    record count): bad JSON, a non-object, a byte that is not UTF-8 (or a file cut inside a character), a
    record nested too deep to parse.

    Lines are read as bytes and decoded one by one, so a decoding error is pinned to its line.
    """
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    with fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid UTF-8 (byte {raw[exc.start:exc.start + 1]!r} at "
                                f"column {exc.start + 1}); re-save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg}, column {exc.colno})") from None
            except RecursionError:
                raise DataError(f"{path}:{lineno}: JSON nested too deeply to read") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield lineno, row


@lru_cache(maxsize=16)
def _read_jsonl_cached(path: str, mtime_ns: int) -> tuple[tuple[int, dict], ...]:
    return tuple(iter_jsonl(path))


def read_jsonl_numbered(path: Path) -> tuple[tuple[int, dict], ...]:
    """(line number, row) of a JSONL file, cached by path and mtime (Reasoning and Understanding share one read)."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return _read_jsonl_cached(str(path), mtime)


def read_jsonl(path: Path) -> tuple[dict, ...]:
    """Parsed rows of a JSONL file (cached, see :func:`read_jsonl_numbered`)."""
    return tuple(row for _, row in read_jsonl_numbered(path))


def cache_root() -> Path:
    """Where hub downloads are converted to the local layout when no data root is given."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "medxpert-ext" / "data"
