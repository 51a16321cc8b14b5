"""``medxpert`` command line: the top layer. Each command module registers on the one Typer app; the work is
done by the harness adapters and the core below.
"""

from __future__ import annotations

import sys

from ..harness.lmeval_run import build_lm_eval_argv
from . import check, data, demo, regress, results, run, sweep, tools  # noqa: F401  (each registers its commands)
from .app import app

__all__ = ["app", "build_lm_eval_argv", "main"]


def main() -> None:
    from ..errors import MissingDependency

    try:
        app()
    except MissingDependency as exc:  # from any command: one line naming the extra, not an import traceback
        sys.stderr.write(f"medxpert: error: {exc}\n")
        sys.exit(2)
