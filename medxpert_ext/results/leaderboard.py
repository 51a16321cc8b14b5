"""Scores from the store assembled into one table: rows are runs (or checkpoints, or models), columns are
benchmarks and groups, every value in percent with its stderr, n, the harness that produced it and the share of
samples with no answer / no verdict next to it (a score with 20 % unreadable answers must not read as a plain low
score). Published reference rows come from ``published.json`` and stay marked as such.
"""

from __future__ import annotations

import fnmatch
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .schema import PERCENT
from .store import RunInfo, Store

PRIMARY = ("acc", "judge_acc", "closed_acc", "recall", "rouge1", "comprehensiveness", "bleu", "f1", "exact_match",
           "bertscore")  # fmt: skip
FAIL_METRICS = ("extract_fail", "judge_error", "closed_unreadable", "no_answer")
# MedXpertQA columns in the paper's order (Text R/U/Avg, MM R/U/Avg, overall), then everything else by name.
PAPER_ORDER = ("medxpert_text_reasoning", "medxpert_text_understanding", "medxpert_text", "medxpert_mm_reasoning",
               "medxpert_mm_understanding", "medxpert_mm", "medxpert")  # fmt: skip
SHORT = {"medxpert_text_reasoning": "Text R", "medxpert_text_understanding": "Text U", "medxpert_text": "Text Avg",
         "medxpert_mm_reasoning": "MM R", "medxpert_mm_understanding": "MM U", "medxpert_mm": "MM Avg",
         "medxpert": "MedXpertQA Avg"}  # fmt: skip
BY = ("run", "checkpoint", "model")
PUBLISHED_FILE = Path(__file__).with_name("published.json")


@dataclass
class Cell:
    value: float | None
    metric: str
    stderr: float | None = None
    n: int | None = None
    harness: str | None = None
    run_id: int | None = None
    fails: dict[str, float] = field(default_factory=dict)  # extract_fail / judge_error ... in percent


@dataclass
class Row:
    model: str
    harness: str
    step: int | None = None
    checkpoint: str | None = None
    run_ids: list[int] = field(default_factory=list)
    evaluated_at: datetime | None = None
    published: bool = False
    source: str | None = None
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.model if self.step is None else f"{self.model} @ step {self.step}"


@dataclass
class Leaderboard:
    by: str
    columns: list[str]
    rows: list[Row]
    scale: str = PERCENT

    def as_json(self) -> dict[str, Any]:
        return {
            "scale": "percent (0-100); fail metrics (extract_fail, judge_error, ...) are percent of samples",
            "by": self.by,
            "columns": self.columns,
            "rows": [
                {
                    "model": r.model, "step": r.step, "checkpoint": r.checkpoint, "harness": r.harness,
                    "run_ids": r.run_ids, "evaluated_at": r.evaluated_at.isoformat() if r.evaluated_at else None,
                    "published": r.published, "source": r.source,
                    "scores": {t: {"metric": c.metric, "value": c.value, "stderr": c.stderr, "n": c.n,
                                   "harness": c.harness, "run_id": c.run_id, **c.fails} for t, c in r.cells.items()},
                }  # fmt: skip
                for r in self.rows
            ],
        }


def column_title(task: str) -> str:
    return SHORT.get(task, task)


def _order(tasks: set[str]) -> list[str]:
    head = [t for t in PAPER_ORDER if t in tasks]
    return head + sorted(tasks - set(head))


def matches(name: str, patterns: list[str] | None) -> bool:
    """A pattern is a glob (``medbench_*``) or a name that also takes its members (``medxpert`` -> medxpert_*)."""
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(name, p) or name.startswith(p + "_") for p in patterns)


def model_matches(name: str, patterns: list[str] | None) -> bool:
    return not patterns or any(name == p or fnmatch.fnmatchcase(name, p) for p in patterns)


def build(store: Store, *, by: str = "checkpoint", tasks: list[str] | None = None, models: list[str] | None = None,
          published: bool = True) -> Leaderboard:  # fmt: skip
    """Rows keyed by run, by (harness, model, checkpoint), or by (harness, model): per task the newest run wins."""
    if by not in BY:
        raise ValueError(f"--by must be one of {', '.join(BY)}")
    runs = [r for r in store.runs() if model_matches(r.model, models)]
    runs_by_id = {r.id: r for r in runs}
    scores: dict[int, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    for s in store.scores(runs_by_id):
        if matches(s.task, tasks):
            scores[s.run_id][s.task][s.metric] = s
    rows: dict[tuple, Row] = {}
    for run in runs:  # oldest first: a newer run of the same key overwrites the task cells it has
        if run.id not in scores:
            continue
        key = _key(run, by)
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(model=run.model, harness=run.harness, step=run.step,
                                  checkpoint=run.checkpoint if by != "model" else None)  # fmt: skip
        row.run_ids.append(run.id)
        row.evaluated_at = run.evaluated_at or run.ingested_at
        if by == "model":
            row.step, row.checkpoint = run.step, run.checkpoint
        for task, metrics in scores[run.id].items():
            cell = _cell(metrics, run)
            if cell is not None:
                row.cells[task] = cell
    out = sorted(rows.values(), key=lambda r: (r.model, r.harness, r.step if r.step is not None else -1,
                                                 r.evaluated_at or datetime.min))  # fmt: skip
    if published:
        out += [r for r in published_rows() if model_matches(r.model, models)]
    columns = _order({t for r in out for t in r.cells if matches(t, tasks)})
    for r in out:
        r.cells = {t: c for t, c in r.cells.items() if t in columns}
    return Leaderboard(by, columns, [r for r in out if r.cells])


def _key(run: RunInfo, by: str) -> tuple:
    if by == "run":
        return (run.id,)
    if by == "model":
        return (run.harness, run.model)
    return (run.harness, run.model, run.step if run.step is not None else run.checkpoint)


def _cell(metrics: dict[str, Any], run: RunInfo) -> Cell | None:
    primary = next((m for m in PRIMARY if m in metrics), None)
    if primary is None:
        primary = next((m for m, s in metrics.items() if s.unit == PERCENT and m not in FAIL_METRICS), None)
    if primary is None:
        return None
    s = metrics[primary]
    fails = {m: metrics[m].value for m in FAIL_METRICS if m in metrics and metrics[m].value is not None}
    return Cell(s.value, primary, s.stderr, s.n, run.harness, run.id, fails)


def published_rows(path: Path = PUBLISHED_FILE) -> list[Row]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        Row(model=r["model"], harness="published", published=True, source=r["source"],
            cells={t: Cell(float(v), "acc", harness="published") for t, v in r["scores"].items()})  # fmt: skip
        for r in data["rows"]
    ]


def latest_per_model(rows: list[Row]) -> list[Row]:
    """The newest measured row of each (model, harness): what the bar charts and breakdowns show when a sweep has
    many checkpoints."""
    best: dict[tuple[str, str], Row] = {}
    for r in rows:
        if r.published:
            continue
        k = (r.model, r.harness)
        if k not in best or (r.step or -1, r.evaluated_at or datetime.min) >= (best[k].step or -1, best[k].evaluated_at or datetime.min):
            best[k] = r
    return list(best.values())
