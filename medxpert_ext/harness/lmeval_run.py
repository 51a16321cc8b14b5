"""Run lm-eval's own CLI in-process with the pack's tasks on the include path (``medxpert lm-eval``, the demo).

lm-eval's ``--include_path`` takes one path, but its TaskManager takes a list; setting the parsed value to a list
is how both the pack's tasks and a user's own folder are found in one run. Our one extra flag, ``--profile``,
expands a model profile into lm-eval flags.
"""

from __future__ import annotations

import sys

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


def run_lm_eval(argv: list[str]) -> None:
    """Parse ``argv`` as lm-eval would and run it; our include path is added. Errors the pack raises on purpose
    (bad data, a missing metric model, a bad profile) propagate for the caller to print as one line."""
    from lm_eval._cli import HarnessCLI
    from lm_eval.utils import setup_logging

    lm_argv, includes = build_lm_eval_argv(argv)
    setup_logging()
    cli = HarnessCLI()
    args = cli._parser.parse_args(lm_argv)
    if hasattr(args, "include_path"):
        args.include_path = includes
    with api_run_without_torch(getattr(args, "model", None)):  # no torch import for an endpoint's run
        cli.execute(args)
