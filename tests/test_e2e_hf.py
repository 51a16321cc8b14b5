"""The real transformers backend: lm-eval's `hf` model over a tiny random-weight model built offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from medxpert_ext.resources import tasks_dir
from tests.helpers import SHARED_DATA, needs_shared_data, read_jsonl

pytestmark = pytest.mark.e2e


@needs_shared_data
def test_plain_lm_eval_with_include_path_runs_hf_backend(tiny_model_dir, tmp_path):
    """`lm_eval --include_path "$(medxpert tasks-dir)"` — lm-eval's own CLI, no wrapper."""
    lm_eval = shutil.which("lm_eval", path=str(Path(sys.executable).parent)) or shutil.which("lm_eval")
    assert lm_eval, "lm_eval console script not installed"
    out = tmp_path / "out"
    proc = subprocess.run(
        [lm_eval, "--model", "hf", "--model_args", f"pretrained={tiny_model_dir},dtype=float32",
         "--tasks", "medxpert_text_sampled,medbench_medqa", "--include_path", str(tasks_dir()),
         "--limit", "3", "--batch_size", "3", "--apply_chat_template", "--gen_kwargs", "max_gen_toks=12",
         "--metadata", json.dumps({"data_dir": str(SHARED_DATA)}), "--output_path", str(out), "--log_samples"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    (results_file,) = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())
    for task in ("medxpert_text_sampled", "medbench_medqa"):
        assert results["n-samples"][task] == {"original": 244 if "text" in task else 1273, "effective": 3}
        row = results["results"][task]
        assert {"acc,extract", "extract_fail,extract"} <= set(row)
        (samples_file,) = results_file.parent.glob(f"samples_{task}_*.jsonl")
        samples = read_jsonl(samples_file)
        assert len(samples) == 3
        for s in samples:  # a random model: whatever it wrote, the score follows from what was extracted
            picked = s["filtered_resps"][0]
            assert s["extract_fail"] == float(picked.startswith("[no answer"))
            assert s["acc"] == float(picked == s["doc"]["answer"])
        assert row["acc,extract"] == pytest.approx(sum(s["acc"] for s in samples) / 3)


def test_demo_runs_offline_on_the_bundled_sample(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MEDXPERT_DATA_DIR"}
    env = {k: v for k, v in env.items() if k != "COLUMNS"}  # piped, as in CI logs: rich would use 80 columns
    env |= {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "demo", "--limit", "2"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "medxpert_text_sampled" in proc.stdout and "bundled sample" in proc.stdout
    (results_file,) = (tmp_path / "medxpert-demo").rglob("results_*.json")
    lines = proc.stdout.splitlines()
    assert f"results {results_file}" in lines  # whole, not wrapped mid-word
    (command,) = [line for line in lines if line.startswith("command: medxpert lm-eval ")]
    assert "--gen_kwargs max_gen_toks=24" in command and "--tasks medxpert_text_sampled" in command
    assert any(line.startswith("acc = share of questions answered correctly; extract_fail = ") for line in lines)
    assert json.loads(results_file.read_text())["n-samples"]["medxpert_text_sampled"]["effective"] == 2
    assert (tmp_path / "cache" / "medxpert-ext" / "tiny-model" / "config.json").is_file()
