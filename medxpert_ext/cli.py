"""``medxpert`` command line: a thin layer over lm-eval and the pack's own tools."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .resources import tasks_dir

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Medical benchmarks for lm-eval (and OpenCompass): MedXpertQA, MedQA/MedMCQA/MMLU-medical, ...",
)

LM_EVAL_SUBCOMMANDS = {"run", "ls", "validate"}


def _fail(message: str) -> None:
    typer.secho(f"medxpert: error: {message}", fg="red", err=True)
    raise typer.Exit(2)


def _pop_option(argv: list[str], name: str) -> tuple[list[str], list[str]]:
    """Remove every ``name VALUE`` / ``name=VALUE`` from argv; return (rest, values)."""
    rest, values, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == name:
            if i + 1 >= len(argv):
                _fail(f"{name} needs a value")
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
    from .profiles import lm_eval_args, load_profile, merge_metadata

    argv, includes = _pop_option(list(argv), "--include_path")
    argv, profiles = _pop_option(argv, "--profile")
    if len(profiles) > 1:
        _fail("give --profile once")
    command = argv[0] if argv and argv[0] in LM_EVAL_SUBCOMMANDS else "run"
    if argv and argv[0] in LM_EVAL_SUBCOMMANDS:
        argv = argv[1:]
    if profiles:
        if command != "run":
            _fail("--profile applies to runs only")
        profile = load_profile(profiles[0])
        for warning in profile.warnings():
            typer.secho(f"medxpert: warning: {warning}", fg="yellow", err=True)
        flags, metadata = lm_eval_args(profile)
        argv, user_meta = _pop_option(argv, "--metadata")
        argv = flags + argv + ["--metadata", merge_metadata(user_meta[-1] if user_meta else None, metadata)]
    _warn_think_end_token(argv)
    return [command, *argv], [str(tasks_dir()), *includes]


def _warn_think_end_token(argv: list[str]) -> None:
    for i, arg in enumerate(argv):
        if arg == "--model_args" and i + 1 < len(argv) and "think_end_token" in argv[i + 1]:
            typer.secho(
                "medxpert: warning: lm-eval's think_end_token keeps the whole text when the token is missing, so a "
                "chain of thought cut off by max_gen_toks is parsed as an answer. Use "
                "--metadata '{\"think_end\": \"</think>\"}' instead (or a profile with reasoning.enabled).",
                fg="yellow",
                err=True,
            )


def run_lm_eval(argv: list[str]) -> None:
    """Run lm-eval's own CLI in-process with our task folder (and the user's) on the include path.

    lm-eval's ``--include_path`` takes one path, but its TaskManager takes a list; setting the parsed value
    to a list is how both the pack's tasks and a user's own folder are found in one run.
    """
    from lm_eval._cli import HarnessCLI
    from lm_eval.utils import setup_logging

    from .data import DataError
    from .lfqa_metrics import MetricUnavailable
    from .profiles import ProfileError

    try:
        lm_argv, includes = build_lm_eval_argv(argv)
    except ProfileError as exc:
        _fail(str(exc))
    setup_logging()
    cli = HarnessCLI()
    args = cli._parser.parse_args(lm_argv)
    if hasattr(args, "include_path"):
        args.include_path = includes
    try:
        cli.execute(args)
    except (DataError, MetricUnavailable) as exc:
        _fail(str(exc))


@app.command("tasks-dir")
def tasks_dir_cmd() -> None:
    """Print the installed task folder (for lm_eval --include_path)."""
    typer.echo(str(tasks_dir()))


@app.command(
    "lm-eval",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def lm_eval_cmd(ctx: typer.Context) -> None:
    """Drop-in for lm_eval: every flag passes through; our tasks are on the include path.

    Extra flag: --profile NAME|FILE expands a model profile (configs/models/NAME.yaml) into lm-eval flags.
    """
    run_lm_eval(list(ctx.args))


@app.command()
def profile(name: Annotated[str, typer.Argument(help="profile name or YAML path")]) -> None:
    """Show the lm-eval flags a model profile expands to, and its warnings."""
    import shlex

    from .profiles import ProfileError, lm_eval_args, load_profile

    try:
        p = load_profile(name)
    except ProfileError as exc:
        _fail(str(exc))
    flags, metadata = lm_eval_args(p)
    if metadata:
        flags += ["--metadata", json.dumps(metadata)]
    typer.echo("medxpert lm-eval " + " ".join(shlex.quote(f) for f in flags) + " --tasks medxpert")
    for warning in p.warnings():
        typer.secho(f"warning: {warning}", fg="yellow", err=True)


@app.command()
def extract(
    letters: Annotated[str, typer.Option(help='default option letters: "ABCD" or a range "A-J"')] = "A-E",
    think_end: Annotated[Optional[str], typer.Option(help="reasoning-model end token; without it -> no answer")] = None,
) -> None:
    """Read JSONL on stdin ({"response", "letters"?, "options"?}); write each object back with "extracted"."""
    from .extract import extract as run_extract
    from .extract import parse_letters

    try:
        default = parse_letters(letters)
    except ValueError as exc:
        _fail(str(exc))
    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("response"), (str, type(None))):
                raise ValueError('each line must be an object with a string "response"')
            spec = parse_letters(obj["letters"]) if obj.get("letters") else default
        except (json.JSONDecodeError, ValueError) as exc:
            _fail(f"stdin line {lineno}: {exc}")
        got = run_extract(obj.get("response"), spec, obj.get("options"), think_end=obj.get("think_end", think_end))
        obj["extracted"] = got.letter
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


@app.command()
def breakdown(
    samples: Annotated[list[Path], typer.Argument(help="lm-eval samples_*.jsonl files (--log_samples)", exists=True)],
    filter_name: Annotated[Optional[str], typer.Option("--filter", help="filter name to read")] = None,
) -> None:
    """Accuracy with n by question type x medical task x body system."""
    from .breakdown import read_samples, render
    from .data import DataError

    try:
        rows = read_samples(samples, filter_name)
    except DataError as exc:
        _fail(str(exc))
    if not rows:
        _fail("no samples in the given files")
    render(rows)


@app.command()
def judge(
    samples: Annotated[list[Path], typer.Argument(help="lm-eval samples_*.jsonl files of MCQ or VQA tasks", exists=True)],
    base_url: Annotated[Optional[str], typer.Option(help="judge endpoint, e.g. https://api.openai.com/v1 [env MEDXPERT_JUDGE_BASE_URL]")] = None,
    model: Annotated[Optional[str], typer.Option(help="judge model, e.g. o3-mini [env MEDXPERT_JUDGE_MODEL]")] = None,
    api_key_env: Annotated[Optional[str], typer.Option(help="NAME of the env var holding the key (default MEDXPERT_JUDGE_API_KEY, then OPENAI_API_KEY)")] = None,
    concurrency: Annotated[Optional[int], typer.Option(help="requests in flight")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="seconds per request")] = None,
    max_retries: Annotated[Optional[int], typer.Option(help="retries on 429/5xx/timeouts/bad replies")] = None,
    token_budget: Annotated[Optional[int], typer.Option(help="stop cleanly after this many tokens (resumable)")] = None,
    cache: Annotated[Optional[Path], typer.Option(help="verdict cache (SQLite) [env MEDXPERT_JUDGE_CACHE]")] = None,
    output_path: Annotated[Path, typer.Option(help="where the judged results go")] = Path("judged"),
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Re-score lm-eval samples with an LLM judge (any OpenAI-compatible endpoint), offline from the model run."""
    from pydantic import ValidationError

    from .judge.offline import SamplesError, judge_samples
    from .judge.settings import JudgeSettings

    try:
        settings = JudgeSettings.from_env(base_url=base_url, model=model, api_key_env=api_key_env,
                                          concurrency=concurrency, timeout=timeout, max_retries=max_retries,
                                          token_budget=token_budget, cache_path=cache)  # fmt: skip
        results_file = judge_samples(samples, settings, output_path.resolve(), progress=progress)
    except (ValueError, ValidationError, SamplesError) as exc:
        _fail(str(exc))
    _print_judged(results_file)


def _print_judged(results_file: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    data = json.loads(results_file.read_text())
    table = Table(title=f"judged by {data['judge']['model']}", title_justify="left")
    for col in ("task", "n", "judge_acc", "judge_error", "calib. err", "agreement", "tokens in/out"):
        table.add_column(col, justify="left" if col == "task" else "right")
    for task, row in data["results"].items():
        usage = data["judge"]["usage"][task]
        cell = [f"{row[k]:.4f}" if k in row else "-" for k in
                ("judge_acc,judge", "judge_error,judge", "calibration_error,judge", "agreement,judge")]  # fmt: skip
        table.add_row(task, str(data["n-samples"][task]["effective"]), *cell,
                      f"{usage['prompt_tokens']}/{usage['completion_tokens']}")  # fmt: skip
    console = Console()
    console.print(table)
    j = data["judge"]
    console.print(f"requests {j['requests_sent']} (cached verdicts {j['cached']}, retries {j['retries']}), "
                  f"tokens {j['usage_total']['prompt_tokens']} prompt + {j['usage_total']['completion_tokens']} completion")  # fmt: skip
    if j["errors"]:
        console.print(f"[yellow]{j['errors']} samples have no verdict (judge_error, not scored): rerun the same "
                      "command to retry them; verdicts already received are cached.[/yellow]")  # fmt: skip
    console.print(f"[bold]results[/bold] {results_file}")


data_app = typer.Typer(help="Prepare and check local datasets (medical VQA).", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _data_root(root: Optional[Path]) -> Path:
    from .data import DATA_DIR_ENV, resolve_data_dir

    resolved = resolve_data_dir(root) if root else resolve_data_dir()
    if resolved is None:
        _fail(f"give --root or set {DATA_DIR_ENV}")
    return resolved


@data_app.command("prepare")
def data_prepare(
    name: Annotated[str, typer.Argument(help="vqarad | slake | pathvqa | pmcvqa | vqamed2021 | quiltvqa | omnimedvqa")],
    source: Annotated[Optional[Path], typer.Argument(help="downloaded hub snapshot folder or official archive; omit to download from the hub")] = None,
    root: Annotated[Optional[Path], typer.Option(help="data root [env MEDXPERT_DATA_DIR]")] = None,
) -> None:
    """Convert a dataset into the local layout <root>/vqa/NAME/ (test.jsonl, images/, SHA256SUMS)."""
    from .data import DataError
    from .vqa_prepare import download_and_prepare, prepare

    target_root = root or _data_root(None)
    try:
        folder = prepare(name, source, target_root) if source else download_and_prepare(name, target_root)
    except DataError as exc:
        _fail(str(exc))
    rows = sum(1 for line in (folder / "test.jsonl").open() if line.strip())
    typer.echo(f"{folder}: {rows} questions, checksums in {folder / 'SHA256SUMS'}")


@data_app.command("verify")
def data_verify(
    name: Annotated[str, typer.Argument(help="dataset name")],
    root: Annotated[Optional[Path], typer.Option(help="data root [env MEDXPERT_DATA_DIR]")] = None,
) -> None:
    """Check a prepared dataset against its SHA256SUMS."""
    from .data import VQA_DIR, DataError
    from .vqa_prepare import verify

    folder = _data_root(root) / VQA_DIR / name
    try:
        verify(folder)
    except DataError as exc:
        _fail(str(exc))
    typer.echo(f"{folder}: ok")


@app.command()
def demo(
    output_path: Annotated[Path, typer.Option(help="where results and samples go")] = Path("medxpert-demo"),
    limit: Annotated[int, typer.Option(help="questions per task")] = 5,
) -> None:
    """Run the real pipeline offline: lm-eval + our tasks + a tiny random model, on bundled or local data."""
    from .demo import run_demo

    run_demo(output_path, limit)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
