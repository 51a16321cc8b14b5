"""Run lm-eval's own CLI in-process with the pack's tasks on the include path (``medxpert lm-eval``, the demo).

lm-eval's ``--include_path`` takes one path, but its TaskManager takes a list; setting the parsed value to a list
is how both the pack's tasks and a user's own folder are found in one run. Our one extra flag, ``--profile``,
expands a model profile into lm-eval flags.
"""

from __future__ import annotations

import json
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..resources import tasks_dir
from .lmeval_compat import api_run_without_torch

LM_EVAL_SUBCOMMANDS = {"run", "ls", "validate"}


class UsageError(ValueError):
    """A command line we cannot run; the message says what to change."""


def pop_option(argv: list[str], name: str) -> tuple[list[str], list[str]]:
    """Remove every ``name VALUE`` / ``name=VALUE`` from argv; return (rest, values)."""
    rest, values, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == name:
            if i + 1 >= len(argv):
                raise UsageError(f"{name} needs a value")
            values.append(argv[i + 1])
            i += 2
            continue
        if arg.startswith(name + "="):
            values.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
        i += 1
    return rest, values


def build_lm_eval_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """Our flags (``--profile``) expanded into lm-eval's; returns (argv for lm-eval, include paths)."""
    from ..profiles import lm_eval_args, load_profile, merge_metadata

    argv, includes = pop_option(list(argv), "--include_path")
    argv, profiles = pop_option(argv, "--profile")
    if len(profiles) > 1:
        raise UsageError("give --profile once")
    command = argv[0] if argv and argv[0] in LM_EVAL_SUBCOMMANDS else "run"
    if argv and argv[0] in LM_EVAL_SUBCOMMANDS:
        argv = argv[1:]
    if profiles:
        if command != "run":
            raise UsageError("--profile applies to runs only")
        profile = load_profile(profiles[0])
        for warning in profile.warnings():
            _warn(warning)
        flags, metadata = lm_eval_args(profile)
        argv, user_meta = pop_option(argv, "--metadata")
        argv = flags + argv + ["--metadata", merge_metadata(user_meta[-1] if user_meta else None, metadata)]
    _warn_think_end_token(argv)
    return [command, *argv], [str(tasks_dir()), *includes]


def _warn(message: str) -> None:
    """Before the run starts, on stderr: lm-eval's logging is not set up yet and must not swallow it."""
    sys.stderr.write(f"medxpert: warning: {message}\n")


def _warn_think_end_token(argv: list[str]) -> None:
    for i, arg in enumerate(argv):
        if arg == "--model_args" and i + 1 < len(argv) and "think_end_token" in argv[i + 1]:
            _warn(
                "lm-eval's think_end_token keeps the whole text when the token is missing, so a "
                "chain of thought cut off by max_gen_toks is parsed as an answer. Use "
                "--metadata '{\"think_end\": \"</think>\"}' instead (or a profile with reasoning.enabled)."
            )


INCLUDE_HINT = ("(the pack's tasks are found by `medxpert lm-eval` on its own; with plain lm_eval add "
                "--include_path \"$(medxpert tasks-dir)\"; your own tasks: --include_path DIR)")


def _task_manager(includes: list[str], *, defaults: bool):
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=includes, include_defaults=defaults)


def leaf_tasks(manager, name: str, _depth: int = 0) -> list[str]:
    """Leaf task names under a task, group or tag of lm-eval's index (groups nest; tags collect tasks)."""
    entry = manager.task_index.get(name)
    if entry is None or _depth > 20:
        return []
    kind = getattr(entry.kind, "name", str(entry.kind)).upper()
    if kind == "GROUP":
        children = (entry.cfg or {}).get("task") or []
        names = [c if isinstance(c, str) else c.get("task") for c in children]
        return [leaf for c in names if isinstance(c, str) for leaf in leaf_tasks(manager, c, _depth + 1)] or []
    if kind == "TAG":
        return sorted(n for n, e in manager.task_index.items() if name in e.tags)
    return [name]


@dataclass
class Resolved:
    """Requested task names resolved against the pack's index (and lm-eval's, only when needed)."""

    leaves: list[str]  # our leaf tasks (for the data preflight)
    ours_only: bool  # every request is one of ours / of the user's include paths: skip lm-eval's own index


def resolve_tasks(requested: list[str], includes: list[str]) -> Resolved:
    """Every requested name must exist. Ours are found in an index of the include paths only (0.01 s); lm-eval's
    ~14,000 built-in YAMLs are indexed only when a name is not found there. A name found nowhere is a
    UsageError with the closest names and the include-path hint, before any model is loaded."""
    from ..preflight import unknown_task_message

    fast = _task_manager(includes, defaults=False)
    leaves: list[str] = []
    missing = []
    for name in requested:
        if name.endswith(".yaml") or os.path.isdir(name):
            missing.append(name)  # a config file or folder: lm-eval's own handling, with its full index
            continue
        matches = fast.match_tasks([name])
        if not matches:
            missing.append(name)
        for match in matches:
            leaves += leaf_tasks(fast, match)
    if not missing:
        return Resolved(list(dict.fromkeys(leaves)), True)
    names = [n for n in missing if not (n.endswith(".yaml") or os.path.isdir(n))]
    present, builtin_names = _scan_builtins(names)
    unknown = [n for n in names if n not in present]
    if not unknown:  # plausibly built-in: lm-eval's full index decides (the run needs it anyway)
        full = _task_manager(includes, defaults=True)
        unknown = [n for n in names if not full.match_tasks([n])]
    if unknown:
        known = [*fast.all_tasks, *builtin_names]
        raise UsageError("; ".join(unknown_task_message(n, known, INCLUDE_HINT if i == len(unknown) - 1 else "")
                                   for i, n in enumerate(unknown)))  # fmt: skip
    return Resolved(list(dict.fromkeys(leaves)), False)


_NAME_LINE = re.compile(rb"^(?:task|group):\s*([\w.\-]+)\s*$", re.MULTILINE)


def _scan_builtins(names: list[str]) -> tuple[set[str], set[str]]:
    """A text scan of lm-eval's built-in task files (2-3 s, against 20-70 s for its index): which of *names*
    appear in any of them (glob patterns count as appearing), and the task/group names declared there (for
    "did you mean"). A name that appears nowhere is certainly not a built-in task."""
    import lm_eval

    wanted = {n: n.encode() for n in names}
    present = {n for n in names if any(c in n for c in "*?[")}
    declared: set[str] = set()
    root = os.path.join(os.path.dirname(lm_eval.__file__), "tasks")
    for folder, _, files in os.walk(root):
        for file in files:
            if not file.endswith((".yaml", ".py")) and "." in file:
                continue
            try:
                with open(os.path.join(folder, file), "rb") as fh:
                    text = fh.read()
            except OSError:
                continue
            present |= {n for n, b in wanted.items() if n not in present and b in text}
            declared |= {m.decode(errors="replace") for m in _NAME_LINE.findall(text)}
    return present, declared


def data_dir_of(metadata: Any) -> str | None:
    """The data root a run will use, from --metadata (JSON string or dict); else None (env or hub)."""
    if isinstance(metadata, str) and metadata.strip():
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError:
            raise UsageError(f"--metadata is not valid JSON: {metadata[:80]!r}") from None
    value = metadata.get("data_dir") if isinstance(metadata, dict) else None
    return str(value) if value else None


def preflight_tasks(requested: list[str], includes: list[str], metadata: Any = None):
    """Task names + data, before any model loads: returns (Resolved, preflight Report); raises on problems."""
    from ..preflight import check

    resolved = resolve_tasks(requested, includes)
    report = check(resolved.leaves, data_dir_of(metadata))
    report.raise_for_problems()
    return resolved, report


@contextmanager
def _ours_only_index(enabled: bool):
    """lm-eval's run builds its TaskManager itself; when every task is ours, make it skip the built-in index."""
    if not enabled:
        yield
        return
    import lm_eval.tasks as lm_tasks

    original = lm_tasks.TaskManager

    class OursOnly(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["include_defaults"] = False
            super().__init__(*args, **kwargs)

    lm_tasks.TaskManager = OursOnly
    try:
        yield
    finally:
        lm_tasks.TaskManager = original


# lm-eval backends that generate remotely: torch's random state never touches their output.
API_BACKENDS = {"local-chat-completions", "local-completions", "openai-chat-completions", "openai-completions",
                "azure-openai-chat-completions"}  # fmt: skip


def run_lm_eval(argv: list[str]) -> None:
    """Parse ``argv`` as lm-eval would, preflight it, and run it; our include path is added. Errors the pack
    raises on purpose (unknown task, bad data, a missing metric model, a bad profile) propagate for the caller
    to print as one line."""
    from lm_eval._cli import HarnessCLI
    from lm_eval.utils import setup_logging

    lm_argv, includes = build_lm_eval_argv(argv)
    cli = HarnessCLI()
    args = cli._parser.parse_args(lm_argv)
    ours_only = False
    if hasattr(args, "include_path"):
        args.include_path = includes
    if lm_argv[0] == "run" and getattr(args, "tasks", None):
        requested = [t for item in ([args.tasks] if isinstance(args.tasks, str) else args.tasks)
                     for t in str(item).split(",") if t]  # fmt: skip
        resolved, report = preflight_tasks(requested, includes, getattr(args, "metadata", None))
        for warning in report.warnings:
            _warn(warning)
        ours_only = resolved.ours_only
    setup_logging()
    # pack-only task index when every task is ours; no torch import for an endpoint's run
    with _ours_only_index(ours_only), api_run_without_torch(getattr(args, "model", None)):
        cli.execute(args)
