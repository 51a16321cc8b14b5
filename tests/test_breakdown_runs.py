"""`medxpert breakdown` over several runs keeps them apart, and names the file it expects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _samples(folder: Path, stamp: str, accs: list[int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"samples_medxpert_text_sampled_{stamp}.jsonl"
    rows = [{"doc": {"id": f"q{i}", "question_type": "Reasoning", "medical_task": "Diagnosis",
                     "body_system": "Skeletal"}, "acc": a, "extract_fail": 0} for i, a in enumerate(accs)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _breakdown(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "breakdown", *map(str, paths)],
                          capture_output=True, text=True, env={"COLUMNS": "200", "PATH": ""}, timeout=120)  # fmt: skip


def test_two_runs_get_their_own_tables(tmp_path):
    a = _samples(tmp_path / "ckpt-100", "2026-01-01T00-00-00.1", [1, 1, 1, 0])  # 75 %
    b = _samples(tmp_path / "ckpt-200", "2026-01-02T00-00-00.1", [0, 0, 0, 1])  # 25 %
    proc = _breakdown(a, b)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "2 runs given: each gets its own tables (runs are never pooled)" in out
    first, second = out.split("run ckpt-200/2026-01-02T00-00-00.1")
    assert "run ckpt-100/2026-01-01T00-00-00.1 (medxpert_text_sampled)" in first
    assert "75.00" in first and "25.00" not in first and "50.00" not in first  # pooled would be 50 %
    assert "25.00" in second and "75.00" not in second


def test_results_file_is_refused_with_what_is_expected(tmp_path):
    results = tmp_path / "results_2026-01-01T00-00-00.1.json"
    results.write_text(json.dumps({"results": {}}, indent=2))
    proc = _breakdown(results)
    assert proc.returncode == 2
    assert "expected an lm-eval samples_<task>_<timestamp>.jsonl file (written with --log_samples), not a results file" in proc.stderr
