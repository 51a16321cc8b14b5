"""``medxpert check``: the preflight of a run, alone (tasks exist, data and images there and readable);
``medxpert tasks``: the pack's tasks and groups with their sizes, in a second."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app, fail


@app.command()
def check(
    tasks: Annotated[str, typer.Option(help="comma-separated tasks / groups, as for lm-eval --tasks")],
    data_dir: Annotated[Optional[Path], typer.Option(help="data root [env MEDXPERT_DATA_DIR]; else the hub")] = None,
    include_path: Annotated[Optional[list[Path]], typer.Option(help="your own task folder(s)")] = None,
) -> None:
    """Run the preflight `medxpert lm-eval` runs before loading a model; exit 2 with every problem found."""
    from ..errors import DataError
    from ..harness.lmeval_run import UsageError, preflight_tasks
    from ..resources import tasks_dir

    includes = [str(tasks_dir()), *(str(p) for p in include_path or [])]
    requested = [t for t in tasks.split(",") if t]
    metadata = {"data_dir": str(data_dir)} if data_dir else None
    try:
        resolved, report = preflight_tasks(requested, includes, metadata)
    except (UsageError, DataError) as exc:
        fail(str(exc))
    for warning in report.warnings:
        typer.secho(f"warning: {warning}", fg="yellow", err=True)
    for item in report.checks:
        src = item.source
        where = src.get("data_root") if src.get("source") == "local" else f"hub {src.get('repo')}@{str(src.get('revision'))[:8]}"
        n = f"{item.docs} questions" if item.docs is not None else "not fetched (hub data is read by the run)"
        typer.echo(f"ok  {item.task}: {n}, {where}")
    others = len(requested) - sum(1 for r in requested if r in {c.task for c in report.checks})
    if not resolved.ours_only:
        typer.echo("lm-eval built-in tasks requested: they exist; their data is lm-eval's to check")
    elif not report.checks and others:
        typer.echo("no task of the pack among these (your own tasks exist)")


class _PackIndex:
    """The pack's task YAMLs read directly (a listing must not wait for lm-eval and its imports):
    task names, and groups with their members."""

    def __init__(self) -> None:
        import yaml

        from ..resources import tasks_dir

        class Loader(yaml.SafeLoader):
            pass

        Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # !function: not needed here
        self.tasks: list[str] = []
        self.groups: dict[str, list[str]] = {}
        for path in sorted(tasks_dir().rglob("*.yaml")):
            cfg = yaml.load(path.read_text(encoding="utf-8"), Loader=Loader) or {}
            if "group" in cfg and isinstance(cfg.get("task"), list):
                self.groups[cfg["group"]] = [t if isinstance(t, str) else t.get("task") for t in cfg["task"]]
            elif isinstance(cfg.get("task"), str):
                self.tasks.append(cfg["task"])
        self.all_subtasks = sorted(self.tasks)
        self.all_groups = sorted(self.groups)

    def leaves(self, name: str) -> list[str]:
        if name not in self.groups:
            return [name]
        return [leaf for member in self.groups[name] for leaf in self.leaves(member)]


def _vqa_half(task: str, leaves: list[str]) -> bool:
    """A VQA set's closed (or open) task whose other half is in the same group: the two count as the set."""
    for half, other in (("_closed", "_open"), ("_open", "_closed")):
        if task.startswith("medvqa_") and task.endswith(half) and task[: -len(half)] + other in leaves:
            return True
    return False


def _vqa_total(task: str) -> int | None:
    from ..vqa_prepare import SOURCES

    return SOURCES[task[len("medvqa_"): -len("_closed")]].expected_rows


@app.command("tasks")
def tasks_cmd() -> None:
    """The pack's tasks and groups with their published sizes (no data is read, lm-eval's index is not built)."""
    from ..preflight import expected_size, task_needs

    manager = _PackIndex()
    sizes: dict[str, int | None] = {}
    for name in manager.all_subtasks:
        needs = task_needs(name)
        sizes[name] = expected_size(needs.data) if needs else None

    def fmt(n: int | None) -> str:
        return f"{n:>6,}" if n is not None else "     ?"

    typer.echo("groups (questions, their tasks)")
    for group in manager.all_groups:
        leaves = manager.leaves(group)
        known = [sizes.get(t) for t in leaves if not _vqa_half(t, leaves)]
        known += [_vqa_total(t) for t in leaves if _vqa_half(t, leaves) and t.endswith("_closed")]
        total = sum(k for k in known if k is not None) if all(k is not None for k in known) else None
        typer.echo(f"  {group:<34} {fmt(total)}  {', '.join(leaves)}")
    typer.echo("tasks (questions; ? = known only from the prepared file)")
    for name in manager.all_subtasks:
        typer.echo(f"  {name:<34} {fmt(sizes[name])}")
