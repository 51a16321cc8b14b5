"""The gate on real lm-eval runs: scripted "checkpoints" with known per-sample differences.

Four checkpoints answer the same synthetic medbench suite (MedQA-shaped files: 1,000 + 300 + 200 questions)
through `medxpert lm-eval` + local-chat-completions against the scripted server. BASE answers in the styles of
tests/mcq_script.py; each candidate changes known questions, so every expected number (accuracies, the McNemar
table, the decision) is counted here from the script, not from the code under test. The four runs go in
parallel (lm-eval's start-up dominates; the scripted answers take about a second).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from tests.helpers import write_jsonl
from tests.mcq_script import OUTCOME, McqScript, items_from_rows, style_by_hash
from tests.scripted_server import ScriptedServer

pytestmark = pytest.mark.e2e
SIZES = {"medqa": ("medqa_test.jsonl", 1000), "medmcqa": ("medmcqa_dev.jsonl", 300),
         "mmlu_medical": ("mmlu_medical_test.jsonl", 200)}  # fmt: skip
LETTERS = "ABCD"


def _rows(name: str, n: int) -> list[dict]:
    return [{"id": f"{name}-{i:05d}", "label": [LETTERS[(i * 7) % 4]],
             "question": f"{name} synthetic question {i}: which option?\nAnswer Choices: "
             + " ".join(f"({k}) {name} option {k}{i}" for k in LETTERS)} for i in range(n)]  # fmt: skip


def _q(row: dict) -> str:
    return row["question"].strip()


class Checkpoints:
    """The suite, BASE's styles and each candidate's known changes (question -> new style)."""

    def __init__(self, root: Path):
        self.rows = {name: _rows(name, n) for name, (_, n) in SIZES.items()}
        for name, (fname, _) in SIZES.items():
            write_jsonl(root / "medbench" / fname, self.rows[name])
        self.items = items_from_rows([r for rows in self.rows.values() for r in rows])
        medqa = [_q(r) for r in self.rows["medqa"]]
        right = [q for q in medqa if OUTCOME[style_by_hash(q)][0]]
        wrong = [q for q in medqa if OUTCOME[style_by_hash(q)] == (False, False)]
        mcqa = [_q(r) for r in self.rows["medmcqa"]]
        mcqa_right = [q for q in mcqa if OUTCOME[style_by_hash(q)][0]]
        mcqa_wrong = [q for q in mcqa if OUTCOME[style_by_hash(q)] == (False, False)]
        self.changes: dict[str, dict[str, str]] = {
            "base": {},
            # 60 right -> wrong, 20 wrong -> right on MedQA: -4.0 points there, -40/1500 on medbench
            "drop": {**{q: "wrong" for q in right[:60]}, **{q: "correct" for q in wrong[:20]}},
            # 40 answers reworded with the same outcome, plus 3 right -> wrong and 2 wrong -> right on MedMCQA
            "wording": {**{q: "json_correct" if style_by_hash(q) != "json_correct" else "correct" for q in right[:40]},
                        **{q: "wrong" for q in mcqa_right[:3]}, **{q: "correct" for q in mcqa_wrong[:2]}},
            # 60 right answers become unreadable on MedQA: extract_fail +6 points
            "format": {q: "garbage" for q in right[:60]},
        }  # fmt: skip

    def style(self, ckpt: str, question: str) -> str:
        return self.changes[ckpt].get(question, style_by_hash(question))

    def outcomes(self, ckpt: str, task: str) -> list[tuple[bool, bool]]:
        return [OUTCOME[self.style(ckpt, _q(r))] for r in self.rows[task]]


def _lm_eval(url: str, root: Path, out: Path) -> subprocess.Popen:
    args = f"model=scripted,base_url={url},num_concurrent=16,max_retries=1,tokenized_requests=False"
    cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
           "--model_args", args, "--apply_chat_template", "--tasks", "medbench",
           "--metadata", json.dumps({"data_dir": str(root)}), "--output_path", str(out), "--log_samples"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Checkpoints, dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("regress_e2e")
    ckpts = Checkpoints(tmp / "data")
    servers, procs, outs = {}, {}, {}
    try:
        for name in ckpts.changes:
            script = McqScript(ckpts.items, lambda q, name=name: ckpts.style(name, q))
            servers[name] = ScriptedServer(script).start()
            outs[name] = tmp / "runs" / name
            procs[name] = _lm_eval(servers[name].chat_url, tmp / "data", outs[name])
        for name, proc in procs.items():
            _, err = proc.communicate(timeout=900)
            assert proc.returncode == 0, f"{name}: {err[-3000:]}"
            assert not servers[name].errors, servers[name].errors[0]
            assert servers[name].count == 1500
    finally:
        for s in servers.values():
            s.stop()
    return ckpts, outs


def regress(*args: object) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "regress", *map(str, args)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr


def gate_json(base: Path, cand: Path, *extra: object) -> tuple[int, dict]:
    code, out, err = regress(base, cand, "--format", "json", *extra)
    assert code in (0, 1, 2) and out, err
    return code, json.loads(out)


def rows_by_name(report: dict, key: str = "rows") -> dict[tuple[str, str], dict]:
    return {(r["name"], r["metric"]): r for r in report[key]}


def test_identical_outputs_are_no_regression(runs):
    _, outs = runs
    code, report = gate_json(outs["base"], outs["base"])
    assert code == 0 and report["decision"] == "no regression"
    assert {r["name"] for r in report["rows"]} == {"medbench_medqa", "medbench_medmcqa", "medbench_mmlu_medical", "medbench"}
    for r in report["rows"] + report["format_rows"]:
        assert r["diff"] == 0 and r["p_value"] == 1.0 and r["ci"] == [0.0, 0.0]


def test_reworded_answers_and_a_few_flips_do_not_cry_wolf(runs):
    _, outs = runs
    code, report = gate_json(outs["base"], outs["wording"])
    assert code == 0, report["findings"]
    rows = rows_by_name(report)
    mcqa = rows[("medbench_medmcqa", "acc")]
    assert mcqa["discordant"] == [3, 2] and mcqa["diff"] == pytest.approx(-100 / 300)
    assert mcqa["p_value"] == pytest.approx(binomtest(2, 5, 0.5).pvalue) and mcqa["status"] == "not significant"
    assert rows[("medbench_medqa", "acc")]["diff"] == 0  # reworded, same outcomes


def test_a_four_point_drop_on_medqa_is_a_regression(runs, tmp_path):
    ckpts, outs = runs
    code, report = gate_json(outs["base"], outs["drop"])
    assert code == 1 and report["decision"] == "regression"
    rows = rows_by_name(report)
    base_o, cand_o = ckpts.outcomes("base", "medqa"), ckpts.outcomes("drop", "medqa")
    b = sum(x[0] and not y[0] for x, y in zip(base_o, cand_o))
    c = sum(y[0] and not x[0] for x, y in zip(base_o, cand_o))
    assert (b, c) == (60, 20)
    medqa = rows[("medbench_medqa", "acc")]
    assert medqa["discordant"] == [60, 20] and medqa["n"] == 1000
    assert medqa["base"] == pytest.approx(100 * sum(x[0] for x in base_o) / 1000)
    assert medqa["diff"] == pytest.approx(-4.0)
    from statsmodels.stats.contingency_tables import mcnemar

    table = [[sum(x[0] and y[0] for x, y in zip(base_o, cand_o)), b], [c, sum(not x[0] and not y[0] for x, y in zip(base_o, cand_o))]]
    assert medqa["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9)
    assert medqa["ci"][0] < -4.0 < medqa["ci"][1] < -1.0 and medqa["status"] == "regression"
    d = np.array([float(y[0]) - float(x[0]) for x, y in zip(base_o, cand_o)])  # plain index-resampling bootstrap
    rng = np.random.default_rng(2024)
    boots = [100 * d[rng.integers(0, 1000, 1000)].mean() for _ in range(10_000)]
    assert medqa["ci"] == pytest.approx(list(np.quantile(boots, [0.025, 0.975])), abs=0.3)  # Monte-Carlo error
    group = rows[("medbench", "acc")]
    assert group["n"] == 1500 and group["diff"] == pytest.approx(-4000 / 1500) and group["status"] == "regression"
    assert rows[("medbench_mmlu_medical", "acc")]["status"] == "not significant"
    assert {f["name"] for f in report["findings"] if f["kind"] == "regression"} == {"medbench_medqa", "medbench"}

    # the same run, Markdown for the PR comment; a team allowing 5 points lets it pass
    code, md, _ = regress(outs["base"], outs["drop"], "--format", "md", "-o", tmp_path / "comment.md")
    text = (tmp_path / "comment.md").read_text()
    assert code == 1 and "❌ regression (exit 1)" in text and "regression" in md  # table on the terminal
    assert "| medbench_medqa | acc | 1,000 |" in text and "| -4.00 |" in text and "**regression**" in text
    cfg = tmp_path / "gate.yaml"
    cfg.write_text("max_drop: 5\n")
    assert regress(outs["base"], outs["drop"], "--config", cfg)[0] == 0


def test_a_format_break_is_reported_as_such(runs):
    _, outs = runs
    code, report = gate_json(outs["base"], outs["format"])
    assert code == 2 and report["decision"] == "could not compare"
    (fb,) = [f for f in report["findings"] if f["kind"] == "format_break"]
    assert fb["name"] == "medbench_medqa" and "not a knowledge drop" in fb["message"]
    frow = rows_by_name(report, "format_rows")[("medbench_medqa", "extract_fail")]
    assert frow["diff"] == pytest.approx(6.0) and frow["discordant"] == [0, 60] and frow["status"] == "format break"
    rows = rows_by_name(report)
    assert rows[("medbench_medqa", "acc")]["status"] == "confounded"
    assert rows[("medbench", "acc")]["status"] == "confounded"
    assert not [f for f in report["findings"] if f["kind"] == "regression"]


def test_a_missing_task_cannot_be_compared(runs):
    _, outs = runs
    (only_medqa,) = outs["wording"].rglob("samples_medbench_medqa_*.jsonl")
    code, report = gate_json(outs["base"], only_medqa)
    assert code == 2
    missing = [f for f in report["findings"] if f["kind"] == "missing_task"]
    assert {f["name"] for f in missing} == {"medbench_medmcqa", "medbench_mmlu_medical"}
    # told which tasks matter, the gate compares what both have
    code, report = gate_json(outs["base"], only_medqa, "--require", "medbench_medqa")
    assert code == 0 and [r["name"] for r in report["rows"]] == ["medbench_medqa"]
