"""Offline tools over model outputs: ``extract`` (stdin JSONL), ``breakdown``, ``judge``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app, fail


@app.command()
def extract(
    letters: Annotated[str, typer.Option(help='default option letters: "ABCD" or a range "A-J"')] = "A-E",
    think_end: Annotated[Optional[str], typer.Option(help="reasoning-model end token; without it -> no answer")] = None,
) -> None:
    """Read JSONL on stdin ({"response", "letters"?, "options"?}); write each object back with "extracted"."""
    from ..extract import extract as run_extract
    from ..extract import parse_letters

    try:
        default = parse_letters(letters)
    except ValueError as exc:
        fail(str(exc))
    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("response"), (str, type(None))):
                raise ValueError('each line must be an object with a string "response"')
            spec = parse_letters(obj["letters"]) if obj.get("letters") else default
        except (json.JSONDecodeError, ValueError) as exc:
            fail(f"stdin line {lineno}: {exc}")
        got = run_extract(obj.get("response"), spec, obj.get("options"), think_end=obj.get("think_end", think_end))
        obj["extracted"] = got.letter
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


@app.command()
def breakdown(
    samples: Annotated[list[Path], typer.Argument(help="lm-eval samples_*.jsonl files (--log_samples)", exists=True)],
    filter_name: Annotated[Optional[str], typer.Option("--filter", help="filter name to read")] = None,
) -> None:
    """Accuracy with n by question type x medical task x body system."""
    from ..breakdown import read_samples, render
    from ..data import DataError

    try:
        rows = read_samples(samples, filter_name)
    except DataError as exc:
        fail(str(exc))
    if not rows:
        fail("no samples in the given files")
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
    mode: Annotated[str, typer.Option(help='"grade": grade every answer; "extract": the judge reads only the MCQ '
                                           "responses the rule extractor could not (acc_rescued)")] = "grade",
) -> None:
    """Re-score lm-eval samples with an LLM judge (any OpenAI-compatible endpoint), offline from the model run."""
    from pydantic import ValidationError

    from ..judge.offline import SamplesError, judge_samples, rescue_samples
    from ..judge.settings import JudgeSettings

    if mode not in ("grade", "extract"):
        fail(f"--mode {mode!r}: expected 'grade' or 'extract'")
    try:
        settings = JudgeSettings.from_env(base_url=base_url, model=model, api_key_env=api_key_env,
                                          concurrency=concurrency, timeout=timeout, max_retries=max_retries,
                                          token_budget=token_budget, cache_path=cache)  # fmt: skip
        run = rescue_samples if mode == "extract" else judge_samples
        results_file = run(samples, settings, output_path.resolve(), progress=progress)
    except (ValueError, ValidationError, SamplesError) as exc:
        fail(str(exc))
    if mode == "extract":
        _print_rescued(results_file)
    else:
        _print_judged(results_file)


def _print_rescued(results_file: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    data = json.loads(results_file.read_text())
    table = Table(title=f"rescued by {data['judge']['model']}", title_justify="left")
    for col in ("task", "n", "acc (rules)", "acc_rescued", "rescued", "extract_fail", "unread"):
        table.add_column(col, justify="left" if col == "task" else "right")
    for task, row in data["results"].items():
        table.add_row(task, str(data["n-samples"][task]["effective"]),
                      *(f"{row[f'{k},rescue']:.4f}" for k in ("acc", "acc_rescued", "rescued", "extract_fail", "unread")))  # fmt: skip
    console = Console()
    console.print(table)
    r = data["judge"]["rescue"]
    console.print(f"sent to the judge {r['sent']} (cached {r['cached']}, requests {r['requests']}), "
                  f"tokens {r['usage']['prompt_tokens']} prompt + {r['usage']['completion_tokens']} completion")  # fmt: skip
    if r["judge_errors"]:
        console.print(f"[yellow]{r['judge_errors']} samples could not be read by the judge (left unread): rerun "
                      "the same command to retry them; readings already received are cached.[/yellow]")  # fmt: skip
    console.print(f"[bold]results[/bold] {results_file}")


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
