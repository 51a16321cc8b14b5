"""Preflight: in the first seconds of a run, before any model is loaded, check that every requested task exists
and that every data file and image it needs is there, readable and well formed.

Harness-neutral on purpose: the lm-eval wrapper (``medxpert lm-eval``), ``medxpert check``, the OpenCompass
wrapper and the checkpoint sweep all call :func:`check` with the pack's leaf task names (each harness expands
its own groups) and print :meth:`Report.problems` as one line each. A missing file otherwise surfaces only after
the model has loaded (minutes for a 70B vLLM model), and a typo in a task name as a harness traceback.

The data check runs the real loaders (the same code the run uses), so every DataError the run would hit is hit
here. Data read from the hub is not fetched by the preflight (that is the run's first step, and needs network);
it is listed with its repository and revision.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .data import DataError, DataSpec, provenance
from .data.files import resolve_data_dir
from .data.lfqa import MEDLFQA_SUBSETS
from .data.mcq import EXPECTED_BY_TYPE, EXPECTED_ROWS
from .errors import MissingDependency, require


class PreflightError(DataError):
    """The run cannot start; the message lists every problem found, one per line."""


@dataclass(frozen=True)
class TaskNeeds:
    """What one of the pack's tasks needs: its data, and the optional packages its scoring or inputs use."""

    task: str
    data: DataSpec
    judge: bool
    images: bool

    @property
    def modules(self) -> list[tuple[str, str]]:
        out = []
        if self.judge:
            out.append(("openai", f"{self.task} (LLM judge)"))
        if self.images:
            out.append(("PIL", f"{self.task} (images)"))
        return out


def task_needs(task: str) -> TaskNeeds | None:
    """The needs of one of the pack's leaf tasks (the task registry's), from its name; None for a name that is
    not one of ours."""
    from .benchmarks import JUDGE_OF, TASKS

    judge = task in JUDGE_OF
    spec = TASKS.get(JUDGE_OF.get(task, task))
    if spec is None:
        return None
    return TaskNeeds(task, spec.data, judge, spec.images)


def expected_size(spec: DataSpec) -> int | None:
    """The published number of questions of a task's data (None when unknown), for listings; no file is read."""
    if spec.kind == "mcq" and spec.bench is not None:
        if spec.bench.sampled:
            from .resources import sampled_ids

            return len(sampled_ids(spec.bench.sampled))
        if spec.bench.question_type:
            return EXPECTED_BY_TYPE.get((spec.bench.key, spec.bench.question_type))
        return EXPECTED_ROWS.get(spec.bench.key)
    if spec.kind == "lfqa":
        return MEDLFQA_SUBSETS[str(spec.name)][1]
    if spec.answer_type:
        return None  # the closed/open split of a VQA set is known only from its file
    from .vqa_prepare import SOURCES

    return SOURCES[str(spec.name)].expected_rows


def did_you_mean(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(name, list(known), n=n, cutoff=0.6)


def unknown_task_message(name: str, known: Iterable[str], hint: str = "") -> str:
    """One line for a task name no index knows: the closest names, and where tasks are looked for."""
    close = did_you_mean(name, known)
    guess = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"unknown task {name!r}{guess}{(' ' + hint) if hint else ''}"


def load_spec(spec: DataSpec, data_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The docs of one DataSpec through the pack's one loader (what the run will read)."""
    if spec.kind == "mcq":
        from .data import load_docs

        assert spec.bench is not None
        return load_docs(spec.bench, data_dir)
    if spec.kind == "vqa":
        from .data import load_vqa_docs

        return load_vqa_docs(str(spec.name), data_dir, answer_type=spec.answer_type)
    from .data import load_medlfqa_docs

    return load_medlfqa_docs(str(spec.name), data_dir)


@dataclass
class TaskCheck:
    task: str
    docs: int | None = None  # None: not loaded (hub data, or an error)
    source: dict[str, Any] = field(default_factory=dict)  # provenance
    error: str | None = None


@dataclass
class Report:
    checks: list[TaskCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def raise_for_problems(self) -> None:
        if self.problems:
            head = f"{len(self.problems)} problem(s) before the run could start:" if len(self.problems) > 1 else ""
            raise PreflightError("\n".join(([head] if head else []) + self.problems))


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().removeprefix("medxpert: WARNING: "))


def check(tasks: Sequence[str], data_dir: str | os.PathLike | None = None) -> Report:
    """Check the pack's leaf *tasks* (names not of the pack are ignored: their harness checks them).

    ``data_dir``: the run's data root (``--metadata data_dir``); else ``MEDXPERT_DATA_DIR``; else the hub.
    Never raises for a task problem: every problem is collected in the report (see :meth:`Report.raise_for_problems`).
    """
    report = Report()
    try:
        root = resolve_data_dir(data_dir)
    except DataError as exc:
        report.problems.append(str(exc))
        return report
    seen_modules: set[str] = set()
    log = logging.getLogger("medxpert_ext.data")
    for task in dict.fromkeys(tasks):
        needs = task_needs(task)
        if needs is None:
            continue
        item = TaskCheck(task)
        report.checks.append(item)
        for module, feature in needs.modules:
            if module in seen_modules:
                continue
            seen_modules.add(module)
            try:
                require(module, feature)
            except MissingDependency as exc:
                report.problems.append(str(exc))
        if root is None:
            item.source = provenance(needs.data, None)
            continue
        handler = _Collect()
        log.addHandler(handler)
        try:
            item.docs = len(load_spec(needs.data, root))
            item.source = provenance(needs.data, root)
        except DataError as exc:
            item.error = str(exc)
            report.problems.append(f"{task}: {exc}")
        finally:
            log.removeHandler(handler)
        report.warnings += [f"{task}: {m}" for m in handler.messages if f"{task}: {m}" not in report.warnings]
    return report
