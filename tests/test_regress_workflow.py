"""The example CI workflow (configs/ci/checkpoint-gate.yml) runs as written: its shell steps, in order, with the
scripted stand-in endpoint and a small local MedQA-shaped file; the gate must catch the scripted drop."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
import yaml

from medxpert_ext.regress import load_config
from tests.helpers import REPO, write_jsonl
from tests.mcq_script import OUTCOME, style_by_hash

WORKFLOW = REPO / "configs" / "ci" / "checkpoint-gate.yml"


def test_shipped_gate_config_loads():
    cfg = load_config(REPO / "configs" / "ci" / "gate.yaml")
    assert cfg.alpha == 0.05 and cfg.resamples == 10_000 and cfg.rule("medbench_medqa").max_drop == 2.0


@pytest.mark.e2e
def test_example_workflow_steps_catch_the_scripted_drop(tmp_path):
    wf = yaml.safe_load(WORKFLOW.read_text())
    steps = {s.get("name"): s for s in wf["jobs"]["gate"]["steps"]}
    rows = [{"id": f"q{i}", "label": ["ABCD"[i % 4]],
             "question": f"Workflow question {i}?\nAnswer Choices: (A) a{i} (B) b{i} (C) c{i} (D) d{i}"}
            for i in range(400)]  # fmt: skip
    write_jsonl(tmp_path / "data" / "medbench" / "medqa_test.jsonl", rows)
    right = sum(OUTCOME[style_by_hash(r["question"])][0] for r in rows)
    github = {k: tmp_path / k for k in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    env = {**os.environ, **wf["jobs"]["gate"]["env"], "BASE_MODEL": "base", "CAND_MODEL": "cand", "EVAL_BASE_URL": "",
           "OPENAI_API_KEY": "", "MEDXPERT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO),
           **{k: str(v) for k, v in github.items()}}  # fmt: skip
    for p in github.values():
        p.touch()
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "configs").symlink_to(REPO / "configs")

    def run_step(name: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(["bash", "-e", "-c", steps[name]["run"]], cwd=work, env=env, capture_output=True,
                              text=True, timeout=900)  # fmt: skip
        for line in github["GITHUB_ENV"].read_text().splitlines():  # what later steps see
            key, _, value = line.partition("=")
            env[key] = value
        return proc

    try:
        proc = run_step("Scripted stand-in endpoint (when no EVAL_BASE_URL is set)")
        assert proc.returncode == 0, proc.stderr
        assert env["EVAL_BASE_URL"].endswith("/v1/chat/completions")
        proc = run_step("Evaluate baseline and candidate")
        assert proc.returncode == 0, proc.stderr[-3000:]
        proc = run_step("Gate")
        assert proc.returncode == 0, proc.stderr
    finally:
        pid = work / "endpoint.pid"
        if pid.is_file():
            os.kill(int(pid.read_text()), signal.SIGTERM)
    assert github["GITHUB_OUTPUT"].read_text().strip() == "code=1"
    md = (work / "gate.md").read_text()
    assert md == github["GITHUB_STEP_SUMMARY"].read_text()
    drop = 100 * min(60, right) / 400
    assert "❌ regression (exit 1)" in md and "| medbench_medqa | acc | 400 |" in md and f"| -{drop:.2f} |" in md
    assert json.loads((work / "gate.json").read_text())["exit_code"] == 1
