"""Where the paired samples come from: a run reference -> per-task, per-sample metric values.

The gate only needs :class:`RunSamples`: for every task, the sample ids and each metric's per-sample values
(plus which direction is better, and the groups the run reported). Anything that can produce that is a reader.

Readers today:

- :func:`read_lmeval` — an lm-eval output folder (``--output_path``, searched recursively), one
  ``results_<time>.json``, or one ``samples_<task>_<time>.jsonl`` (written with ``--log_samples``).

The results store (issue 9) adds a second reader at merge time: a run id or checkpoint step resolved by
``Store.resolve_run(ref)`` and read with ``Store.samples(run_id, task)``. It plugs in through
:func:`register_reader`; :func:`load_run` asks each registered reader in turn and falls back to paths.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..data.files import iter_jsonl
from ..errors import DataError

_SAMPLES_RE = re.compile(r"^samples_(?P<task>.+)_(?P<stamp>\d{4}-\d{2}-\d{2}T[\d\-.]+)\.jsonl$")
_RESULTS_RE = re.compile(r"^results_(?P<stamp>\d{4}-\d{2}-\d{2}T[\d\-.]+)\.json$")
# per-sample keys of an lm-eval samples line that are never metrics
_NOT_METRICS = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics", "doc_hash",
                "prompt_hash", "target_hash"}  # fmt: skip


@dataclass(frozen=True)
class TaskSamples:
    """One task of one run. ``values[metric][i]`` belongs to ``ids[i]``; NaN = not scored for that sample
    (e.g. ``judge_acc`` of a sample the judge gave no verdict on)."""

    task: str
    ids: tuple[str, ...]
    values: Mapping[str, np.ndarray]
    higher_is_better: Mapping[str, bool] = field(default_factory=dict)
    targets: tuple[str, ...] | None = None  # a fingerprint of each gold answer (lm-eval's target_hash), if known

    def __post_init__(self) -> None:
        if self.targets is not None and len(self.targets) != len(self.ids):
            raise ValueError(f"task {self.task}: {len(self.targets)} targets for {len(self.ids)} ids")
        for name, arr in self.values.items():
            if len(arr) != len(self.ids):
                raise ValueError(f"task {self.task}: metric {name} has {len(arr)} values for {len(self.ids)} ids")


@dataclass(frozen=True)
class RunSamples:
    """Everything the gate reads about one run."""

    label: str  # how reports name the run (folder, run id, checkpoint)
    source: str  # where it was read from
    tasks: Mapping[str, TaskSamples]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # group -> its leaf tasks


class RunReader(Protocol):
    """Turns a run reference into samples, or returns None when the reference is not its kind."""

    def __call__(self, ref: str) -> RunSamples | None: ...


_READERS: list[RunReader] = []


def register_reader(reader: RunReader) -> None:
    """Add a reader asked before the path reader (the results store registers one for run ids / steps)."""
    _READERS.append(reader)


def load_run(ref: str, *, filter_name: str | None = None) -> RunSamples:
    """A run from its reference: registered readers first, then an lm-eval results path."""
    for reader in _READERS:
        run = reader(ref)
        if run is not None:
            return run
    path = Path(ref)
    if path.exists():
        return read_lmeval(path, filter_name=filter_name)
    raise DataError(
        f"{ref}: no such results path (run ids and checkpoint steps need the results store; "
        "until it is installed pass an lm-eval --output_path folder, results_*.json or samples_*.jsonl)"
    )


# ------------------------------------------------------------------------------------------------ lm-eval
def read_lmeval(path: Path, *, filter_name: str | None = None, label: str | None = None) -> RunSamples:
    """An lm-eval run from a folder, a ``results_*.json`` or a ``samples_*.jsonl``.

    A folder may hold several lm-eval invocations (tasks split across calls) as long as no task appears in two
    of them: which one to compare would be a guess, so that is an error naming both files.
    """
    path = Path(path)
    if path.is_file() and _SAMPLES_RE.match(path.name):
        sample_files = [path]
        results_files: list[Path] = []
    elif path.is_file() and _RESULTS_RE.match(path.name):
        stamp = _RESULTS_RE.match(path.name)["stamp"]  # type: ignore[index]
        results_files = [path]
        sample_files = [p for p in path.parent.glob(f"samples_*_{stamp}.jsonl") if _SAMPLES_RE.match(p.name)]
        if not sample_files:
            raise DataError(f"{path}: no samples_*_{stamp}.jsonl next to it (run lm-eval with --log_samples)")
    elif path.is_dir():
        sample_files = sorted(p for p in path.rglob("samples_*.jsonl") if _SAMPLES_RE.match(p.name))
        results_files = sorted(p for p in path.rglob("results_*.json") if _RESULTS_RE.match(p.name))
        if not sample_files:
            raise DataError(f"{path}: no lm-eval samples_*.jsonl files (run lm-eval with --log_samples)")
    else:
        raise DataError(f"{path}: not an lm-eval output folder, results_*.json or samples_*.jsonl file")

    tasks: dict[str, TaskSamples] = {}
    origin: dict[str, Path] = {}
    for f in sample_files:
        task = _SAMPLES_RE.match(f.name)["task"]  # type: ignore[index]
        if task in origin:
            raise DataError(f"task {task} is in both {origin[task]} and {f}; pass one results_*.json instead of the folder")
        origin[task] = f
        tasks[task] = _read_samples_file(f, task, filter_name)
    groups, better = _read_results(results_files)
    if better:
        tasks = {t: TaskSamples(t, s.ids, s.values, {**better.get(t, {}), **s.higher_is_better}, s.targets)
                 for t, s in tasks.items()}  # fmt: skip
    return RunSamples(label or _label(path), str(path), tasks, groups)


def _label(path: Path) -> str:
    path = path.resolve()
    return path.parent.name if path.is_file() else path.name


def _as_float(value: object) -> float | None:
    """A per-sample metric value as a number; None for non-scalar values (e.g. calibration pairs)."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _read_samples_file(path: Path, task: str, filter_name: str | None) -> TaskSamples:
    per_filter: dict[str, dict[str, dict[str, float]]] = {}
    targets: dict[str, dict[str, str]] = {}
    for lineno, row in iter_jsonl(path):  # the pack's one JSONL reader: bad lines are named file:LINE
        if not isinstance(row.get("doc"), dict):
            raise DataError(f"{path}:{lineno}: not an lm-eval sample (no 'doc' object)")
        flt = str(row.get("filter", "none"))
        if filter_name is not None and flt != filter_name:
            continue
        sid = _sample_id(row, path, lineno)
        names = row.get("metrics") or [k for k in row if k not in _NOT_METRICS]
        vals = {}
        for name in names:
            if name not in row:
                raise DataError(f"{path}:{lineno}: sample {sid} lists metric {name!r} but has no value for it")
            v = _as_float(row[name])
            if v is not None:
                vals[name] = v
        seen = per_filter.setdefault(flt, {})
        if sid in seen:
            raise DataError(f"{path}:{lineno}: sample id {sid!r} appears twice")
        seen[sid] = vals
        if isinstance(row.get("target_hash"), str):
            targets.setdefault(flt, {})[sid] = row["target_hash"]
    if not per_filter:
        want = f" with filter {filter_name!r}" if filter_name else ""
        raise DataError(f"{path}: no samples{want}")
    if len(per_filter) > 1:
        raise DataError(f"{path}: task {task} has filters {sorted(per_filter)}; choose one with --filter")
    ((flt, rows),) = per_filter.items()
    ids = tuple(rows)
    hashes = targets.get(flt, {})
    fingerprints = tuple(hashes[sid] for sid in ids) if len(hashes) == len(ids) else None
    metric_names = sorted({m for v in rows.values() for m in v})
    values = {}
    for m in metric_names:
        missing = [sid for sid in ids if m not in rows[sid]]
        if missing:
            raise DataError(f"{path}: sample {missing[0]!r} has no {m!r} while others do")
        values[m] = np.fromiter((rows[sid][m] for sid in ids), dtype=np.float64, count=len(ids))
    return TaskSamples(task, ids, values, targets=fingerprints)


def _sample_id(row: dict, path: Path, lineno: int) -> str:
    """The doc's own id (stable across runs and task versions); lm-eval's doc_id index otherwise."""
    doc = row["doc"]
    for key in ("id", "qid", "question_id"):
        if doc.get(key) not in (None, ""):
            return str(doc[key])
    if "doc_id" in row:
        return f"#{row['doc_id']}"
    raise DataError(f"{path}:{lineno}: sample has neither doc.id nor doc_id")


def _read_results(files: Iterable[Path]) -> tuple[dict[str, tuple[str, ...]], dict[str, dict[str, bool]]]:
    """Groups (flattened to their leaf tasks) and higher_is_better from results files."""
    subtasks: dict[str, list[str]] = {}
    better: dict[str, dict[str, bool]] = {}
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{f}: unreadable lm-eval results file ({exc})") from None
        if not isinstance(data, dict):
            raise DataError(f"{f}: not an lm-eval results file")
        for group, members in (data.get("group_subtasks") or {}).items():
            if members:
                subtasks[group] = list(members)
        for task, hib in (data.get("higher_is_better") or {}).items():
            if isinstance(hib, dict):
                better[task] = {k: bool(v) for k, v in hib.items() if isinstance(v, bool)}

    def leaves(name: str, depth: int = 0) -> list[str]:
        if name not in subtasks or depth > 20:
            return [name]
        return [leaf for sub in subtasks[name] for leaf in leaves(sub, depth + 1)]

    return {group: tuple(leaves(group)) for group in subtasks}, better


def synthetic_run(label: str, tasks: Mapping[str, Mapping[str, Mapping[str, float]]],
                  groups: Mapping[str, Iterable[str]] | None = None) -> RunSamples:  # fmt: skip
    """A run from plain dicts {task: {sample_id: {metric: value}}} (tests, other readers, notebooks)."""
    out = {}
    for task, rows in tasks.items():
        ids = tuple(rows)
        names = sorted({m for v in rows.values() for m in v})
        out[task] = TaskSamples(task, ids, {m: np.array([rows[i].get(m, math.nan) for i in ids], float) for m in names})
    return RunSamples(label, label, out, {g: tuple(m) for g, m in (groups or {}).items()})

