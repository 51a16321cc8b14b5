"""Accuracy by question type x medical task x body system from lm-eval ``--log_samples`` files.

The paper reports MedXpertQA by these axes; a run's samples file has them on every doc, so the breakdown is a
re-read of what lm-eval wrote, never a re-run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .data import DataError, iter_jsonl, normalize_medical_task

AXES = ("question_type", "medical_task", "body_system")


@dataclass(frozen=True)
class Sample:
    run: str  # "<results folder>/<timestamp>": the files of one lm-eval run share both
    task: str
    axes: dict[str, str]
    correct: bool
    extracted: bool


def read_samples(paths: Iterable[Path], filter_name: str | None = None) -> list[Sample]:
    """Samples from lm-eval samples files (one JSON object per line, each with ``doc`` and ``acc``)."""
    out = []
    for path in paths:
        if not (path.name.startswith("samples_") and path.name.endswith(".jsonl")):
            raise DataError(f"{path}: expected an lm-eval samples_<task>_<timestamp>.jsonl file (written with "
                            "--log_samples), not " + ("a results file" if path.name.startswith("results_") else
                                                      "this file"))  # fmt: skip
        task, _, stamp = path.name.removeprefix("samples_").removesuffix(".jsonl").rpartition("_")
        run = f"{path.resolve().parent.name}/{stamp}"
        for lineno, row in iter_jsonl(path):
            if filter_name and row.get("filter") not in (None, filter_name):
                continue
            if "acc" not in row or not isinstance(row.get("doc"), dict):
                raise DataError(f"{path}:{lineno}: not an lm-eval sample of a medxpert task (no 'acc'/'doc')")
            doc = row["doc"]
            axes = {
                "question_type": doc.get("question_type") or "-",
                "medical_task": normalize_medical_task(doc.get("medical_task")) or "-",
                "body_system": doc.get("body_system") or "-",
            }
            out.append(Sample(run, task, axes, row["acc"] == 1, row.get("extract_fail", 0) == 0))
    return out


@dataclass(frozen=True)
class Cell:
    key: tuple[str, ...]
    n: int
    correct: int
    unreadable: int

    @property
    def acc(self) -> float:
        return self.correct / self.n if self.n else 0.0


def group(samples: Sequence[Sample], axes: Sequence[str]) -> list[Cell]:
    counts: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    for s in samples:
        c = counts[tuple(s.axes[a] for a in axes)]
        c[0] += 1
        c[1] += s.correct
        c[2] += not s.extracted
    return [Cell(k, *v) for k, v in sorted(counts.items())]


def runs(samples: Sequence[Sample]) -> dict[str, list[Sample]]:
    """Samples by run, in the order given: two runs are never pooled into one accuracy."""
    out: dict[str, list[Sample]] = {}
    for s in samples:
        out.setdefault(s.run, []).append(s)
    return out


def render(samples: Sequence[Sample], axes: Sequence[str] = AXES) -> None:
    """Per run: one table per axis, then the full cross table."""
    from rich.console import Console

    console = Console()
    by_run = runs(samples)
    if len(by_run) > 1:
        console.print(f"{len(by_run)} runs given: each gets its own tables (runs are never pooled)", soft_wrap=True)
    for run, run_samples in by_run.items():
        tasks = ", ".join(dict.fromkeys(s.task for s in run_samples))
        console.print(f"[bold]run[/bold] {run} ({tasks})", soft_wrap=True)
        _render_run(console, run_samples, axes)


def _render_run(console, samples: Sequence[Sample], axes: Sequence[str]) -> None:
    from rich.table import Table

    groupings = [[a] for a in axes] + ([list(axes)] if len(axes) > 1 else [])
    for grouping in groupings:
        table = Table(title=" x ".join(grouping), title_justify="left")
        for a in grouping:
            table.add_column(a)
        for col in ("acc %", "n", "no answer"):
            table.add_column(col, justify="right")
        cells = group(samples, grouping)
        for cell in cells:
            table.add_row(*cell.key, f"{100 * cell.acc:.2f}", str(cell.n), str(cell.unreadable))
        total = Cell(("all",), len(samples), sum(s.correct for s in samples), sum(not s.extracted for s in samples))
        table.add_section()
        table.add_row("all", *[""] * (len(grouping) - 1), f"{100 * total.acc:.2f}", str(total.n), str(total.unreadable))
        console.print(table)
