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
    """Read JSONL on stdin ({"response", "letters"?, "options"?, "think_end"?}); write each object back with
    "extracted" (a letter or null) and "reason" (ok, no_answer, out_of_range, ...).

    A line that cannot be read gets {"line": N, "error": "..."} in its place and the stream goes on; the exit
    code is 1 when any line failed, 0 otherwise.
    """
    from ..extract import parse_letters

    try:
        default = parse_letters(letters)
    except ValueError as exc:
        fail(str(exc))
    failed = 0
    for lineno, raw in enumerate(sys.stdin.buffer, 1):
        if not raw.strip():
            continue
        try:
            out = _extract_line(raw, default, think_end)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            failed += 1
            out = {"line": lineno, "error": str(exc)}
        sys.stdout.write(_dump(out) + "\n")
    sys.stdout.flush()
    if failed:
        typer.secho(f"medxpert extract: {failed} line(s) could not be read (see their \"error\" objects)", fg="red",
                    err=True)  # fmt: skip
        raise typer.Exit(1)


def _extract_line(raw: bytes, default: str, think_end: str | None) -> dict:
    """One stdin line -> the object with "extracted" and "reason"; ValueError says what is wrong with the line."""
    from ..extract import extract as run_extract
    from ..extract import parse_letters

    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {raw[exc.start:exc.start + 1]!r})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("response"), (str, type(None))):
        raise ValueError('each line must be an object with a string "response"')
    if "letters" in obj:  # present means meant: null or "" is an error, not a silent A-E
        if not isinstance(obj["letters"], str) or not obj["letters"].strip():
            raise ValueError('"letters" is empty or not a string; omit it to use --letters')
        spec = parse_letters(obj["letters"])
    else:
        spec = default
    options = obj.get("options")
    if options is not None and (not isinstance(options, dict)
                                or not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items())):
        raise ValueError('"options" must be an object mapping letters to option texts')
    end = obj.get("think_end", think_end)
    if end is not None and not isinstance(end, str):
        raise ValueError('"think_end" must be a string')
    got = run_extract(obj.get("response"), spec, options, think_end=end)
    obj["extracted"] = got.letter
    obj["reason"] = got.reason
    return obj


def _dump(obj: dict) -> str:
    """Readable UTF-8 JSON; a lone surrogate (valid in JSON, not in UTF-8) is written escaped instead."""
    line = json.dumps(obj, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(obj)
    return line


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
        from ..judge.offline import nothing_judged

        data = json.loads(results_file.read_text())
        if nothing_judged(data):
            faults = ", ".join(f"{k}={v}" for k, v in data["judge"]["faults"].items()) or "see the log"
            fail(f"no sample was judged: every one is judge_error ({faults}); check --base-url, --model and the API "
                 f"key, then rerun (results with null scores: {results_file})")


def _judge_table(data: dict, verb: str, columns: tuple[str, ...]):
    """The per-task table both judge summaries print: "<verb> by <judge model>", task left, numbers right."""
    from rich.table import Table

    table = Table(title=f"{verb} by {data['judge']['model']}", title_justify="left")
    for col in columns:
        table.add_column(col, justify="left" if col == "task" else "right")
    return table


def _print_rescued(results_file: Path) -> None:
    from rich.console import Console

    data = json.loads(results_file.read_text())
    table = _judge_table(data, "rescued", ("task", "n", "acc (rules)", "acc_rescued", "rescued", "extract_fail",
                                           "unread"))  # fmt: skip
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

    data = json.loads(results_file.read_text())
    table = _judge_table(data, "judged", ("task", "n", "judge_acc", "judge_error", "calib. err", "agreement",
                                          "tokens in/out"))  # fmt: skip
    for task, row in data["results"].items():
        usage = data["judge"]["usage"][task]
        cell = [f"{row[k]:.4f}" if row.get(k) is not None else "-" for k in
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
