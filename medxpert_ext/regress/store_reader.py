"""The gate's runs from the results store: ``medxpert regress step:1200 step:1400 --db DB`` (run ids, checkpoint
steps, or any results path, which the store ingests on the fly — OpenCompass work dirs included).

The store keeps per sample the task's correctness metric and its failure metric (no answer / no verdict), plus
the other per-sample values; they go back to lm-eval's 0-1 scale here, so the gate's statistics and thresholds
are the same whichever way a run was read.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..benchmarks import GROUPS, JUDGE_OF, TASKS
from ..errors import DataError
from .inputs import RunSamples, TaskSamples

# per task kind: (correctness metric, failure metric) as the store's ``correct`` / ``fail`` columns hold them
_COLUMNS = {"mcq": ("acc", "extract_fail"), "vqa_closed": ("closed_acc", "closed_unreadable"),
            "vqa_open": (None, None), "vqamed": (None, None), "lfqa": (None, "no_answer")}  # fmt: skip


def _columns(task: str) -> tuple[str | None, str | None]:
    if task in JUDGE_OF:
        return "judge_acc", "judge_error"
    spec = TASKS.get(task)
    return _COLUMNS[spec.kind] if spec else ("acc", "extract_fail")


def _from_store_scale(metric: str, value: float | None) -> float:
    from ..results.records import COUNT_METRICS, NATIVE_PERCENT

    if value is None:
        return math.nan
    return value if metric in COUNT_METRICS or metric in NATIVE_PERCENT else value / 100.0


def store_reader(db: str | None):
    """A reader for :func:`medxpert_ext.regress.inputs.register_reader` over the store at ``db``."""

    def read(ref: str) -> RunSamples | None:
        from ..results.store import Store, StoreError

        try:
            with Store.open(db) as store:
                run = store.resolve_run(Path(ref) if Path(ref).exists() else ref)
                tasks = {}
                for task in store.tasks(run.id):
                    samples = store.samples(run.id, task)
                    ids = tuple(samples)
                    correct, fail = _columns(task)
                    cols: dict[str, list[float]] = {}
                    for sid in ids:
                        s = samples[sid]
                        row = {k: _from_store_scale(k, v) for k, v in (s.values or {}).items()}
                        if correct:
                            row[correct] = math.nan if s.correct is None else float(s.correct)
                        if fail:
                            row[fail] = float(s.fail)
                        for k, v in row.items():
                            cols.setdefault(k, []).append(v)
                    values = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items() if len(v) == len(ids)}
                    tasks[task] = TaskSamples(task, ids, values)
        except StoreError as exc:
            raise DataError(str(exc)) from None
        label = f"{run.model}" + (f" @ step {run.step}" if run.step is not None else "") + f" (run {run.id})"
        groups = {g: leaves for g, leaves in GROUPS.items() if all(t in tasks for t in leaves)}
        return RunSamples(label, f"{db or 'store'} run {run.id}", tasks, groups)

    return read
