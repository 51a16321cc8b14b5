"""The live view (checkpoints i/N with ETA, one line per running checkpoint: stage, task, request counter) and
the closing summary table. rich, like the rest of the CLI; off a terminal rich prints only the final frame, and
each finished checkpoint is also printed as one plain line for logs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .plan import SweepPlan
from .state import CheckpointState


class LiveView:
    def __init__(self, plan: SweepPlan, total: int, console: Console):
        self.plan = plan
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
        )  # fmt: skip
        self.overall = self.progress.add_task("checkpoints", total=total)
        self.rows: dict[int, TaskID] = {}
        self.lock = threading.Lock()

    def __enter__(self) -> LiveView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def started(self, index: int) -> None:
        with self.lock:
            if index not in self.rows:
                name = self.plan.checkpoints[index]["name"]
                self.rows[index] = self.progress.add_task(f"  {name}: starting", total=None)

    def progress_update(self, index: int, what: str, n: int, total: int) -> None:
        self.started(index)
        with self.lock:
            name = self.plan.checkpoints[index]["name"]
            self.progress.update(self.rows[index], description=f"  {name}: {what}", completed=n, total=total or None)

    def finished(self, index: int, state: CheckpointState) -> None:
        with self.lock:
            row = self.rows.pop(index, None)
            if row is not None:
                self.progress.remove_task(row)
            self.progress.advance(self.overall)
            seconds = state.stages.get("harness")
            took = f" in {seconds.seconds:.0f}s" if seconds and seconds.seconds else ""
            if state.failed():
                failed = next(r for s, r in state.stages.items() if r.status == "failed")
                self.progress.console.print(f"[red]✗ {state.name}[/red] failed{took}: {failed.message}")
            else:
                self.progress.console.print(f"[green]✓ {state.name}[/green] evaluated{took}")


def primary_metrics(results_file: str | None, tasks: list[str]) -> dict[str, tuple[str, float]]:
    """task -> (metric, value): the first metric of each requested task (acc for the pack's MCQ tasks)."""
    if not results_file or not Path(results_file).is_file():
        return {}
    results = json.loads(Path(results_file).read_text()).get("results", {})
    out = {}
    for task in tasks:
        row = results.get(task, {})
        metrics = [k for k, v in row.items() if "," in k and "_stderr" not in k and isinstance(v, (int, float))]
        if metrics:
            key = next((k for k in metrics if k.startswith("acc,")), metrics[0])
            out[task] = (key.split(",")[0], float(row[key]))
    return out


def summary_table(plan: SweepPlan, states: dict[int, CheckpointState], skipped: set[int]) -> Table:
    table = Table(title=f"sweep {plan.source}: {len(plan.checkpoints)} checkpoints", title_justify="left")
    table.add_column("checkpoint")
    table.add_column("step", justify="right")
    table.add_column("this run")
    for task in plan.tasks:
        table.add_column(task, justify="right")
    table.add_column("judge")
    table.add_column("ingest")
    table.add_column("gate")
    for i in range(len(plan.checkpoints)):
        raw = plan.checkpoints[i]
        state = states.get(i)
        if state is None:
            table.add_row(raw["name"], str(raw["step"]), "not run", *[""] * (len(plan.tasks) + 3))
            continue
        status = "finished earlier" if i in skipped else ("FAILED" if state.failed() else "evaluated")
        metrics = primary_metrics(state.results_file, plan.tasks)
        cells = [f"{metrics[t][0]} {metrics[t][1]:.4f}" if t in metrics else "-" for t in plan.tasks]
        judge = state.stages["judge"].status if "judge" in state.stages else ("-" if not plan.judge else "pending")
        ingest = state.stages["ingest"].status if "ingest" in state.stages else "-"
        gate_rec = state.stages.get("gate")
        if gate_rec is None:
            gate = "-"
        elif gate_rec.status == "done":
            gate = state.gate or "n/a (first)"
        else:
            gate = gate_rec.status
        style = "red" if state.failed() or state.gate in ("regression", "not comparable") else None
        table.add_row(raw["name"], str(raw["step"]), status, *cells, judge, ingest, gate, style=style)
    return table
