"""``medxpert demo``: the real pipeline on a fresh machine with no network.

lm-eval's ``hf`` backend runs a tiny random-weight model built on the spot over our real tasks and data (the
bundled official MedXpertQA Text sample, or ``MEDXPERT_DATA_DIR``). The model's answers are noise; what the demo
shows is that install, task loading, prompting, generation, extraction, scoring and output all work.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Annotated

import typer

from ..data import DATA_DIR_ENV, LOCAL_FILES
from ..resources import PACKAGE_DATA
from .app import app

BUNDLED_ROOT = PACKAGE_DATA / "demo"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "medxpert-ext"


def demo_tasks(root: Path) -> list[str]:
    """The sampled Text subset always; the MCQ suite too when the data root has it."""
    tasks = ["medxpert_text_sampled"]
    if (root / LOCAL_FILES["medqa"]).is_file():
        tasks.append("medbench_medqa")
    return tasks


def run_demo(output_path: Path, limit: int) -> Path:
    from rich.console import Console
    from rich.table import Table

    from ..harness.lmeval_run import run_lm_eval
    from ..tiny_model import build_tiny_model

    console = Console()
    root = Path(os.environ[DATA_DIR_ENV]) if os.environ.get(DATA_DIR_ENV) else BUNDLED_ROOT
    typer.echo(f"data  {root}" + ("" if root != BUNDLED_ROOT else " (bundled sample)"))
    model_dir = build_tiny_model(_cache_dir() / "tiny-model")
    typer.echo(f"model {model_dir} (tiny random weights, built offline)")
    tasks = demo_tasks(root)
    output_path = output_path.resolve()
    argv = [
            "--model", "hf",
            "--model_args", f"pretrained={model_dir},dtype=float32",
            "--tasks", ",".join(tasks),
            "--limit", str(limit),
            "--batch_size", "4",
            "--apply_chat_template",
            "--gen_kwargs", "max_gen_toks=24",
            "--metadata", json.dumps({"data_dir": str(root)}),
            "--output_path", str(output_path),
            "--log_samples",
    ]  # fmt: skip
    # The exact command, so the user can rerun it, change it, or see what the demo chose (a tiny generation
    # budget: the random model never stops on its own, and 24 tokens keep the demo under a minute on a CPU).
    typer.echo("command: medxpert lm-eval " + shlex.join(argv))
    run_lm_eval(["run", *argv])
    results_file = max(output_path.rglob("results_*.json"), key=lambda p: p.stat().st_mtime)
    results = json.loads(results_file.read_text())["results"]
    table = Table(title="medxpert demo (random model: scores are noise, the pipeline is real)")
    for col in ("task", "n", "acc", "extract_fail"):
        table.add_column(col, justify="left" if col == "task" else "right")
    n_samples = json.loads(results_file.read_text()).get("n-samples", {})
    for task in tasks:
        row = results[task]
        n = n_samples.get(task, {}).get("effective", "")
        table.add_row(task, str(n), f"{row['acc,extract']:.3f}", f"{row['extract_fail,extract']:.3f}")
    console.print(table)
    typer.echo("acc = share of questions answered correctly; extract_fail = share where no final answer could be "
               "read from the output (a random model writes noise, so ~100 % is expected here: the pipeline is fine)")
    # plain echo, not rich: a piped console is 80 columns wide and rich would break paths mid-word
    typer.echo(f"results {results_file}")
    typer.echo(f"samples {results_file.parent}/samples_*.jsonl  (medxpert breakdown FILES...)")
    return results_file


@app.command()
def demo(
    output_path: Annotated[Path, typer.Option(help="where results and samples go")] = Path("medxpert-demo"),
    limit: Annotated[int, typer.Option(help="questions per task")] = 5,
) -> None:
    """Run the real pipeline offline: lm-eval + our tasks + a tiny random model, on bundled or local data."""
    run_demo(output_path, limit)
