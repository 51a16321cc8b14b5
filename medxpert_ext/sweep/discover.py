"""Find a training run's checkpoints and order them by step.

Trainers name checkpoints ``step-1000`` (many custom loops), ``checkpoint-1000`` (HF Trainer) or
``global_step1000`` (DeepSpeed); a plain list file covers every other layout. Lexical order puts ``step-1000``
before ``step-200``, so the step number is parsed, never the name sorted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# name -> step; the prefixes trainers actually write
CHECKPOINT_NAME = re.compile(r"^(?:step[-_]?|checkpoint[-_]|global_step[-_]?)(\d+)$")
TRAILING_NUMBER = re.compile(r"(\d+)$")


class DiscoverError(ValueError):
    """No usable checkpoints; the message names the folder or list-file line."""


@dataclass(frozen=True)
class Checkpoint:
    name: str  # folder name; also the served model name for endpoint profiles
    path: str  # absolute folder (or, from a list file, the entry as resolved)
    step: int


def step_of(name: str) -> int | None:
    match = CHECKPOINT_NAME.match(name)
    return int(match.group(1)) if match else None


def discover(source: Path) -> list[Checkpoint]:
    """Checkpoints in a folder (sub-folders named step-N / checkpoint-N / global_stepN) or a list file."""
    source = Path(source)
    if source.is_file():
        found = _from_list_file(source)
    elif source.is_dir():
        found = [
            Checkpoint(p.name, str(p.resolve()), step)
            for p in source.iterdir()
            if p.is_dir() and (step := step_of(p.name)) is not None
        ]
        if not found:
            raise DiscoverError(
                f"{source}: no checkpoint folders (expected sub-folders named step-N, checkpoint-N or global_stepN; "
                "or pass a list file with one checkpoint path per line)"
            )
    else:
        raise DiscoverError(f"{source}: no such folder or list file")
    return _ordered(found, source)


def _from_list_file(path: Path) -> list[Checkpoint]:
    """One checkpoint per line (``#`` comments allowed); relative paths are relative to the list file. The step
    comes from the name (step-N, checkpoint-N, global_stepN, else trailing digits)."""
    found = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        entry = Path(line)
        resolved = entry if entry.is_absolute() else (path.parent / entry)
        name = entry.name.rstrip("/")
        step = step_of(name)
        if step is None and (m := TRAILING_NUMBER.search(name)):
            step = int(m.group(1))
        if step is None:
            raise DiscoverError(f"{path}:{lineno}: cannot read a step number from {line!r} (name it step-N)")
        found.append(Checkpoint(name, str(resolved.resolve()), step))
    if not found:
        raise DiscoverError(f"{path}: the list file names no checkpoints")
    return found


def _ordered(found: list[Checkpoint], source: Path) -> list[Checkpoint]:
    found = sorted(found, key=lambda c: c.step)
    for a, b in zip(found, found[1:]):
        if a.step == b.step:
            raise DiscoverError(f"{source}: two checkpoints have step {a.step}: {a.name} and {b.name}")
    names = [c.name for c in found]
    if len(set(names)) != len(names):
        raise DiscoverError(f"{source}: checkpoint names must be unique (results are stored per name)")
    return found
