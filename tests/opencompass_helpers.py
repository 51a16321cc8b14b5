"""Running real OpenCompass in tests: a run config over the pack's dataset configs and an OpenAISDK model pointed at
the scripted server (with a local tokenizer, as offline OpenCompass needs), and reading what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("opencompass", reason="OpenCompass not installed (pip install -e '.[opencompass]')")


def tokenizer_dir(folder: Path) -> Path:
    """The tiny model's tokenizer, saved alone (OpenAISDK only counts prompt tokens with it)."""
    from medxpert_ext.tiny_model import build_tokenizer

    if not (folder / "tokenizer.json").is_file():
        build_tokenizer().save_pretrained(folder)
    return folder


def write_config(path: Path, *, modules: dict[str, list[str]], base_url: str, tokenizer: Path,
                 test_range: str | None = None, model_extra: dict | None = None, evaluator_extra: dict | None = None) -> Path:  # fmt: skip
    """``modules``: dataset config module -> abbrs to keep from its ``<name>_datasets`` list."""
    imports = "\n".join(f"    from medxpert_ext.configs.opencompass.datasets.{m} import {m.removesuffix('_gen')}_datasets"
                        for m in modules)  # fmt: skip
    picks = " + ".join(f"[d for d in {m.removesuffix('_gen')}_datasets if d['abbr'] in {abbrs!r}]"
                       for m, abbrs in modules.items())  # fmt: skip
    model = {"type": "opencompass.models.OpenAISDK", "abbr": "scripted", "path": "scripted",
             "openai_api_base": base_url.rstrip("/") + "/", "key": "ENV", "tokenizer_path": str(tokenizer),
             "max_seq_len": 32768, "max_out_len": 1024, "temperature": 0.0, "query_per_second": 64,
             "max_workers": 32, "batch_size": 64, "retry": 1, "run_cfg": {"num_gpus": 0}, **(model_extra or {})}  # fmt: skip
    lines = ["from mmengine.config import read_base", "", "with read_base():", imports,
             "    from medxpert_ext.configs.opencompass.summarizers.medxpert import medxpert_summary_groups", "",
             f"datasets = {picks}", f"models = [{model!r}]", "summarizer = dict(summary_groups=medxpert_summary_groups)"]  # fmt: skip
    if test_range:
        lines += ["for _d in datasets:", f"    _d['reader_cfg'] = dict(_d['reader_cfg'], test_range={test_range!r})"]
    if evaluator_extra:
        lines += ["for _d in datasets:",
                  f"    _d['eval_cfg'] = dict(evaluator=dict(_d['eval_cfg']['evaluator'], **{evaluator_extra!r}))"]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def run(config: Path, work_dir: Path, env: dict[str, str], *, wrapper: bool = True) -> subprocess.CompletedProcess:
    """``medxpert opencompass CONFIG -w WORK_DIR`` (or plain ``opencompass``) with a clean environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MEDXPERT_", "OPENAI_"))}
    env = base | {"OPENAI_API_KEY": "EMPTY", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"} | env
    # two workers: OpenCompass runs one subprocess per eval task, one at a time by default
    args = [str(config), "-w", str(work_dir), "--max-num-workers", "2"]
    cmd = ([sys.executable, "-m", "medxpert_ext.cli", "opencompass", *args] if wrapper
           else [sys.executable, "-m", "opencompass.cli.main", *args])  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1500, cwd=work_dir.parent)


def results(work_dir: Path, model: str = "scripted") -> dict[str, dict]:
    """Dataset abbr -> OpenCompass' results JSON of the newest run in the work dir."""
    (run_dir,) = sorted(p for p in work_dir.iterdir() if p.is_dir())[-1:]
    return {p.stem: json.loads(p.read_text()) for p in (run_dir / "results" / model).glob("*.json")}


def per_sample(result: dict) -> dict[str, dict]:
    """Sample id -> per-sample scores from OpenCompass' details (it stores each detail's fields as lists)."""
    return {d["id"][0]: d["scores"][0] for d in result["details"]}


def failure_log(work_dir: Path) -> str:
    logs = sorted(work_dir.rglob("*.out"))
    return "\n".join(f"== {p}\n{p.read_text()[-3000:]}" for p in logs[-3:])
