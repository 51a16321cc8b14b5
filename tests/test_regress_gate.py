"""Gate decisions on runs with known per-sample values, the lm-eval samples reader, config and CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest
from typer.testing import CliRunner

from medxpert_ext.cli import app
from medxpert_ext.errors import DataError
from medxpert_ext.regress import GateConfig, evaluate, load_config, read_lmeval
from medxpert_ext.regress.inputs import load_run, synthetic_run
from medxpert_ext.regress.report import render_json, render_markdown

CFG = GateConfig()


def mcq_task(prefix: str, outcomes: list[tuple[int, int]]) -> dict[str, dict[str, float]]:
    return {f"{prefix}-{i}": {"acc": float(a), "extract_fail": float(f)} for i, (a, f) in enumerate(outcomes)}


def base_outcomes(n: int, seed: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    acc = rng.random(n) < 0.55
    fail = ~acc & (rng.random(n) < 0.1)
    return [(int(a), int(f)) for a, f in zip(acc, fail)]


def flip(outcomes, to_wrong: int, to_right: int, *, unreadable: bool = False):
    out, down, up = list(outcomes), 0, 0
    for i, (a, f) in enumerate(out):
        if a and down < to_wrong:
            out[i], down = (0, int(unreadable)), down + 1
        elif not a and not f and up < to_right:
            out[i], up = (1, 0), up + 1
    assert (down, up) == (to_wrong, to_right)
    return out


def suite(outcomes: dict[str, list[tuple[int, int]]], label: str):
    return synthetic_run(label, {t: mcq_task(t, o) for t, o in outcomes.items()}, {"medbench": list(outcomes)})


DIFFICULTY = {t: np.random.default_rng(9).beta(2, 1.5, n) for t, n in (("medbench_medqa", 1000),
              ("medbench_medmcqa", 600), ("medbench_mmlu_medical", 400))}  # fmt: skip
BASE = {"medbench_medqa": base_outcomes(1000, 1), "medbench_medmcqa": base_outcomes(600, 2),
        "medbench_mmlu_medical": base_outcomes(400, 3)}  # fmt: skip


def test_known_drop_flags_the_task_and_group_with_exact_p():
    cand = {**BASE, "medbench_medqa": flip(BASE["medbench_medqa"], 50, 15)}
    res = evaluate(suite(BASE, "step-100"), suite(cand, "step-200"), CFG)
    assert res.exit_code == 1 and res.decision == "regression"
    rows = {r.name: r for r in res.rows}
    medqa = rows["medbench_medqa"]
    assert medqa.diff == pytest.approx(-3.5) and medqa.discordant == (50, 15)
    assert medqa.p_value == pytest.approx(binomtest(15, 65, 0.5).pvalue, rel=1e-12)
    assert medqa.p_adjusted == pytest.approx(min(1, 4 * medqa.p_value))  # smallest of 4 gated p-values
    assert rows["medbench"].diff == pytest.approx(-3500 / 2000) and rows["medbench"].status == "regression"
    assert rows["medbench_medmcqa"].status == "not significant" and rows["medbench_medmcqa"].p_value == 1.0


def test_per_task_allowance_and_alpha_from_yaml(tmp_path):
    cfg_file = tmp_path / "gate.yaml"
    cfg_file.write_text("alpha: 0.01\ntasks:\n  medbench_medqa: {max_drop: 5}\n  medbench: {max_drop: 2}\n")
    cfg = load_config(cfg_file)
    cand = {**BASE, "medbench_medqa": flip(BASE["medbench_medqa"], 50, 15)}
    res = evaluate(suite(BASE, "a"), suite(cand, "b"), cfg)
    assert res.exit_code == 0
    assert {r.name: r.status for r in res.rows}["medbench_medqa"] == "within allowance"
    assert load_config(cfg_file, {"max_drop": 0.5}).max_drop == 0.5  # flags win


def test_same_outputs_rescored_and_null_noise_do_not_cry_wolf():
    """Identical runs: p = 1. Then 100 pairs of runs that are equally good (every question answered right with the
    same probability by both): the gate may flag at most alpha / 2 of them; allowing for chance, at most 5 %."""
    res = evaluate(suite(BASE, "a"), suite(BASE, "a"), CFG)
    assert res.exit_code == 0 and all(r.p_value == 1.0 and r.diff == 0 for r in res.rows)
    rng = np.random.default_rng(123)
    flagged = 0
    for _ in range(100):  # exchangeable runs: each question has a difficulty, both runs draw from it
        a, b = ({t: list(zip((rng.random(len(p)) < p).astype(int), [0] * len(p))) for t, p in DIFFICULTY.items()}
                for _ in range(2))  # fmt: skip
        flagged += evaluate(suite(a, "a"), suite(b, "b"), GateConfig(max_drop=0.0)).exit_code == 1
    assert flagged <= 5, flagged  # 1 of 100 with seed 123; a p-value off by a factor flags far more


def test_format_break_is_its_own_finding():
    cand = {**BASE, "medbench_medmcqa": flip(BASE["medbench_medmcqa"], 40, 0, unreadable=True)}
    res = evaluate(suite(BASE, "a"), suite(cand, "b"), CFG)
    assert res.exit_code == 2 and res.decision == "could not compare"
    (finding,) = [f for f in res.findings if f.kind == "format_break"]
    assert finding.name == "medbench_medmcqa" and "extract_fail" in finding.message
    status = {r.name: r.status for r in res.rows}
    assert status["medbench_medmcqa"] == "confounded" and status["medbench"] == "confounded"
    assert not [f for f in res.findings if f.kind == "regression"]


def test_missing_task_sample_mismatch_and_min_n():
    cand = dict(BASE)
    del cand["medbench_mmlu_medical"]
    res = evaluate(suite(BASE, "a"), synthetic_run("b", {t: mcq_task(t, o) for t, o in cand.items()}), CFG)
    assert res.exit_code == 2 and [f.name for f in res.findings if f.kind == "missing_task"] == ["medbench_mmlu_medical"]
    assert "medbench" not in {r.name for r in res.rows}

    shifted = synthetic_run("b", {t: mcq_task(t if t != "medbench_medqa" else "other", o) for t, o in BASE.items()})
    res = evaluate(suite(BASE, "a"), shifted, CFG)
    (mm,) = [f for f in res.findings if f.kind == "sample_mismatch"]
    assert res.exit_code == 2 and "0 common, 1000 only in BASE, 1000 only in CAND" in mm.message

    half = {**BASE, "medbench_medqa": BASE["medbench_medqa"][:500]}
    res = evaluate(suite(BASE, "a"), synthetic_run("b", {t: mcq_task(t, o) for t, o in half.items()}),
                   GateConfig(allow_subset=True))  # fmt: skip
    assert res.exit_code == 0 and {r.name: r.n for r in res.rows}["medbench_medqa"] == 500

    small = {t: o[:50] for t, o in BASE.items()}
    res = evaluate(suite(small, "a"), suite(small, "b"), CFG)
    assert res.exit_code == 2 and {f.kind for f in res.findings} == {"too_few_samples"}
    assert evaluate(suite(small, "a"), suite(small, "b"), GateConfig(min_n=50)).exit_code == 0


def test_continuous_metrics_lower_is_better_and_unjudged_samples():
    rng = np.random.default_rng(0)
    n = 600
    hall = rng.uniform(0, 60, n)
    rouge = rng.uniform(0.1, 0.5, n)
    base = {"medlfqa_kqa_silver": {f"q{i}": {"hallucination": hall[i], "rougeL": rouge[i], "no_answer": 0.0}
                                   for i in range(n)}}  # fmt: skip
    worse = {"medlfqa_kqa_silver": {f"q{i}": {"hallucination": min(100, hall[i] + rng.normal(4, 3)),
                                               "rougeL": rouge[i] + rng.normal(0, 0.01), "no_answer": 0.0}
                                    for i in range(n)}}  # fmt: skip
    res = evaluate(synthetic_run("a", base), synthetic_run("b", worse), CFG)
    rows = {r.metric: r for r in res.rows}
    assert rows["hallucination"].status == "regression" and not rows["hallucination"].higher_is_better
    assert rows["hallucination"].test == "bootstrap" and rows["hallucination"].p_value == pytest.approx(1 / 10_001)
    assert rows["rougeL"].status in ("not significant", "ok", "within allowance")
    assert res.exit_code == 1

    unscored = {"medlfqa_live_qa": {f"q{i}": {"rougeL": 0.3, "hallucination": np.nan} for i in range(100)}}
    res = evaluate(synthetic_run("a", unscored), synthetic_run("b", unscored), CFG)
    assert res.exit_code == 0 and [r.metric for r in res.rows] == ["rougeL"]
    assert any("hallucination: not scored in either run" in f.message for f in res.findings)

    judged = {"medxpert_text_judge": {f"q{i}": {"judge_acc": float(i % 2) if i % 10 else np.nan} for i in range(300)}}
    res = evaluate(synthetic_run("a", judged), synthetic_run("b", judged), CFG)
    assert res.exit_code == 0 and res.rows[0].n == 270  # samples without a verdict are left out, not scored 0


def test_config_errors_name_the_field(tmp_path):
    bad = tmp_path / "gate.yaml"
    bad.write_text("max_dorp: 2\n")
    with pytest.raises(DataError, match=r"gate.yaml: max_dorp: Extra inputs are not permitted"):
        load_config(bad)
    with pytest.raises(DataError, match=r"gate options: resamples: .*10000"):
        load_config(None, {"resamples": 500})
    bad.write_text("tasks:\n  medbench: {max_drop: -1}\n")
    with pytest.raises(DataError, match=r"tasks.medbench.max_drop"):
        load_config(bad)


# ------------------------------------------------------------------------------------ lm-eval samples reader
def lmeval_folder(root: Path, outcomes: dict[str, list[tuple[int, int]]], stamp="2026-11-30T01-02-03.000001",
                  gold=lambda task, i: "A") -> Path:  # fmt: skip
    """Files in lm-eval 0.4.13's --log_samples layout (the e2e test checks the real thing)."""
    d = root / "scripted"
    d.mkdir(parents=True)
    for task, outs in outcomes.items():
        with open(d / f"samples_{task}_{stamp}.jsonl", "w") as fh:
            for i, (a, f) in enumerate(outs):
                fh.write(json.dumps({"doc_id": i, "doc": {"id": f"{task}-{i}"}, "target": gold(task, i),
                                     "target_hash": f"hash-{gold(task, i)}", "resps": [["x"]],
                                     "filtered_resps": ["A"], "filter": "extract", "metrics": ["acc", "extract_fail"],
                                     "acc": float(a), "extract_fail": float(f)}) + "\n")  # fmt: skip
    (d / f"results_{stamp}.json").write_text(json.dumps({
        "results": {}, "group_subtasks": {"medbench": list(outcomes)},
        "higher_is_better": {t: {"acc": True, "extract_fail": False} for t in outcomes}}))  # fmt: skip
    return root


def test_reader_and_cli_on_lmeval_files(tmp_path):
    base = lmeval_folder(tmp_path / "base", BASE)
    cand = lmeval_folder(tmp_path / "cand", {**BASE, "medbench_medqa": flip(BASE["medbench_medqa"], 50, 15)})
    run = read_lmeval(base)
    assert run.label == "base" and run.groups == {"medbench": tuple(BASE)}
    assert run.tasks["medbench_medqa"].ids[:2] == ("medbench_medqa-0", "medbench_medqa-1")
    (results,) = (base / "scripted").glob("results_*.json")
    assert set(read_lmeval(results).tasks) == set(BASE)

    runner = CliRunner()
    out = runner.invoke(app, ["regress", str(base), str(cand), "--format", "json"])
    assert out.exit_code == 1, out.output
    report = json.loads(out.output)
    assert [f["name"] for f in report["findings"] if f["kind"] == "regression"] == ["medbench_medqa", "medbench"]
    md = tmp_path / "pr.md"
    out = runner.invoke(app, ["regress", str(base), str(cand), "--format", "md", "-o", str(md), "--max-drop", "4"])
    assert out.exit_code == 0 and "no regression (exit 0)" in out.output
    assert "| medbench_medqa | acc | 1,000 | " in md.read_text() and "within allowance" in md.read_text()


def test_same_ids_with_different_gold_answers_are_different_samples(tmp_path):
    base = lmeval_folder(tmp_path / "base", BASE)
    cand = lmeval_folder(tmp_path / "cand", BASE, gold=lambda task, i: "B" if (task, i) == ("medbench_medqa", 7) else "A")
    res = evaluate(read_lmeval(base), read_lmeval(cand), CFG)
    (mm,) = [f for f in res.findings if f.kind == "sample_mismatch"]
    assert res.exit_code == 2 and mm.name == "medbench_medqa"
    assert "1 samples have the same id but a different gold answer" in mm.message and "'medbench_medqa-7'" in mm.message


def test_reader_errors_name_the_file_and_sample(tmp_path):
    base = lmeval_folder(tmp_path / "run", {"medbench_medqa": [(1, 0)] * 3})
    (f,) = base.rglob("samples_*.jsonl")
    f.write_text(f.read_text()[:-40])
    with pytest.raises(DataError, match=r"samples_medbench_medqa_.*\.jsonl:3: not valid JSON"):
        read_lmeval(base)
    lines = f.read_text().splitlines()[:2]
    f.write_text("\n".join([lines[0], lines[0]]) + "\n")
    with pytest.raises(DataError, match=r":2: sample id 'medbench_medqa-0' appears twice"):
        read_lmeval(base)
    lmeval_folder(tmp_path / "run" / "again", {"medbench_medqa": [(1, 0)] * 3}, stamp="2026-11-30T05-06-07.000001")
    f.write_text(lines[0] + "\n")
    with pytest.raises(DataError, match=r"task medbench_medqa is in both .* pass one results_\*.json"):
        read_lmeval(base)
    with pytest.raises(DataError, match=r"step-1200: no such results path \(run ids and checkpoint steps need"):
        load_run("step-1200")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no lm-eval samples_\*.jsonl files \(run lm-eval with --log_samples\)"):
        read_lmeval(tmp_path / "empty")
    out = CliRunner().invoke(app, ["regress", str(tmp_path / "empty"), str(base)])
    assert out.exit_code == 2 and "medxpert: error:" in out.output and "Traceback" not in out.output


def test_reports_escape_and_carry_the_numbers():
    cand = {**BASE, "medbench_medqa": flip(BASE["medbench_medqa"], 50, 15)}
    res = evaluate(suite(BASE, "<b>base</b>"), suite(cand, "cand|x"), CFG)
    md = render_markdown(res)
    assert "&lt;b&gt;base&lt;/b&gt;" in md and "cand\\|x" in md and "<b>" not in md
    data = json.loads(render_json(res))
    assert data["exit_code"] == 1 and data["config"]["resamples"] == 10_000
    row = next(r for r in data["rows"] if r["name"] == "medbench_medqa")
    assert row["discordant"] == [50, 15] and row["p_holm"] == pytest.approx(min(1, 4 * row["p_value"]))
