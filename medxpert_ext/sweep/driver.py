"""Run a sweep: save the plan, skip what is finished, hand the rest to the launcher, advance the store stages
in step order as checkpoints finish, show progress, end with the summary table and an exit code."""

from __future__ import annotations

import threading

from rich.console import Console

from .launchers import get_launcher
from .plan import CheckpointDirs, SweepPlan
from .progress import LiveView, summary_table
from .runner import StoreStages, _still_complete, checkpoint_state
from .state import CheckpointState, reset_failed

EXIT_OK, EXIT_REGRESSION, EXIT_FAILED = 0, 1, 2


def finished_earlier(plan: SweepPlan, state: CheckpointState) -> bool:
    return state.worker_finished(bool(plan.judge)) and _still_complete(plan, state)


def run_sweep(plan: SweepPlan, console: Console | None = None) -> int:
    console = console or Console()
    plan.save()
    n = len(plan.checkpoints)
    states = {i: checkpoint_state(plan, i) for i in range(n)}
    skipped = {i for i in range(n) if finished_earlier(plan, states[i])}
    todo = [i for i in range(n) if i not in skipped]
    for i in sorted(skipped):
        console.print(f"[dim]- {states[i].name}: finished earlier, skipped[/dim]")
    for i in todo:
        reset_failed(CheckpointDirs(plan, plan.checkpoint(i)).state, states[i])

    lock = threading.Lock()
    store = StoreStages(plan, on_message=lambda text: console.print(f"[yellow]{text}[/yellow]"))
    done: dict[int, CheckpointState] = {i: states[i] for i in skipped}
    launcher = get_launcher(plan.launcher)

    with LiveView(plan, len(todo), console) as view:

        class Events:
            started = staticmethod(view.started)
            progress = staticmethod(view.progress_update)

            @staticmethod
            def finished(index: int, state: CheckpointState) -> None:
                view.finished(index, state)
                with lock:
                    done[index] = state
                    store.advance(done)

        with lock:
            store.advance(done)  # checkpoints finished earlier whose store stages were skipped or pending
        launcher(plan, todo, Events)
    with lock:
        store.advance(done)
    console.print(summary_table(plan, done, skipped))

    failed = [s.name for s in done.values() if s.failed()] + [plan.checkpoints[i]["name"] for i in range(n) if i not in done]
    regressed = [s.name for s in done.values() if s.gate in ("regression", "not comparable")]
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/red] — rerun the same command to resume them")
        return EXIT_FAILED
    if regressed:
        console.print(f"[red]gate flagged: {', '.join(regressed)}[/red]")
        return EXIT_REGRESSION
    return EXIT_OK
