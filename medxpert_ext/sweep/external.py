"""The one seam between the sweep and the pack's other commands: every stage is a ``medxpert <command>`` run as
its own process.

A separate process per stage is deliberate: the model's process exits (and frees the GPU) before the judge
starts, and a crash in one stage cannot take the sweep down. Commands written elsewhere (``ingest``,
``leaderboard``, ``regress``, ``opencompass``) may not exist in a given install; :func:`run_pack_command`
then reports the stage as skipped with a message instead of failing, so a rerun after they land does the work.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass
class CommandResult:
    status: str  # "done" | "failed" | "skipped"
    returncode: int | None
    message: str = ""


@cache
def available_commands() -> frozenset[str]:
    """Names of the ``medxpert`` commands this install has (read from the Typer app, no subprocess)."""
    import typer.main

    from ..cli import app

    group = typer.main.get_command(app)
    return frozenset(getattr(group, "commands", {}))


def pack_argv(name: str, args: list[str]) -> list[str]:
    """The same interpreter and the same ``PYTHONPATH`` as the sweep: a worktree or editable install wins."""
    return [sys.executable, "-m", "medxpert_ext.cli", name, *args]


# tqdm lines lm-eval prints: "Requesting API:  45%|####5     | 9/20 [..]"
_TQDM = re.compile(r"^(?P<desc>[^:\r\n]{1,60}):\s+\d+%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)")


def run_pack_command(
    name: str,
    args: list[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> CommandResult:
    """Run ``medxpert NAME ARGS`` to completion, output to ``log``; skip cleanly when NAME is not installed.

    ``on_progress(desc, n, total)`` gets the tqdm counters the command prints (for the live view)."""
    if name not in available_commands():
        return CommandResult("skipped", None, f"`medxpert {name}` is not available in this install; stage skipped")
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = os.environ | (env or {})
    with open(log, "ab") as fh:
        fh.write(f"\n$ medxpert {name} {' '.join(args)}\n".encode())
        fh.flush()
        proc = subprocess.Popen(pack_argv(name, args), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env)
        assert proc.stdout is not None
        pending = b""
        while chunk := proc.stdout.read1(65536):
            fh.write(chunk)
            if on_progress is None:
                continue
            *lines, pending = re.split(rb"[\r\n]", pending + chunk)
            for line in lines:
                if m := _TQDM.match(line.decode(errors="replace").strip()):
                    on_progress(m["desc"].strip(), int(m["n"]), int(m["total"]))
        rc = proc.wait()
    if rc == 0:
        return CommandResult("done", 0)
    return CommandResult("failed", rc, f"`medxpert {name}` exited {rc}: {_last_error(log)} (log: {log})")


_EXCEPTION = re.compile(r"^[\w.]*(Error|Exception|Exit)\b:? ")


def _last_error(log: Path) -> str:
    """The line of a failed command's output that says why, for a one-line summary: the pack's own
    ``medxpert: error:`` line, else the exception that ended a traceback, else the last line (box drawing off)."""
    raw = re.split(r"[\r\n]", log.read_text(errors="replace")[-20000:])
    lines = [ln.strip(" \t│╭╮╰╯─┃━") for ln in raw]
    lines = [ln for ln in lines if ln and ln.lower() != "error"]
    for test in (lambda ln: ln.startswith("medxpert: error:"), _EXCEPTION.match):
        hits = [ln for ln in lines if test(ln)]
        if hits:
            return hits[-1][:300]
    return lines[-1][:300] if lines else "no output"
