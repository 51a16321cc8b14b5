"""The results store on real harness outputs: a real lm-eval run (scripted server), `medxpert judge` on its
samples, and an OpenCompass work dir of the same scripted model; leaderboard numbers must equal the harness
numbers (scale converted) and the scripted model's counted outcome, and both harnesses must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from medxpert_ext.results.leaderboard import build
from medxpert_ext.results.store import Store
from tests.mcq_script import McqScript, items_from_rows, style_by_hash
from tests.results_fixtures import SECRET, TASKS, expected_pct, outcome, task_of, text_rows, write_opencompass_workdir, write_text_data
from tests.scripted_server import ScriptedServer

pytestmark = pytest.mark.e2e
CKPT = "/ckpts/med-llama/checkpoint-1200"


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medxpert_ext.cli", *args], capture_output=True, text=True,
                          timeout=900, env=env, **({} if env else {}))  # fmt: skip


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    """One real `medxpert lm-eval` run of medxpert_text (Reasoning + Understanding) with --log_samples."""
    tmp = tmp_path_factory.mktemp("lm_run")
    rows = text_rows()
    write_text_data(tmp / "data", rows)
    server = ScriptedServer(McqScript(items_from_rows(rows), style_by_hash)).start()
    try:
        model_args = f"model={CKPT},base_url={server.chat_url},num_concurrent=16,max_retries=1,tokenized_requests=False"
        proc = cli("lm-eval", "--model", "local-chat-completions", "--model_args", model_args, "--apply_chat_template",
                   "--tasks", "medxpert_text", "--metadata", json.dumps({"data_dir": str(tmp / "data")}),
                   "--output_path", str(tmp / "out"), "--log_samples")  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-4000:]
    finally:
        server.stop()
    (results_file,) = (tmp / "out").rglob("results_*.json")
    return rows, results_file, tmp


def test_lmeval_numbers_land_unchanged_in_percent(lm_run, tmp_path):
    rows, results_file, _ = lm_run
    harness = json.loads(results_file.read_text())
    db = tmp_path / "store.db"
    proc = cli("ingest", str(results_file.parent.parent), "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert "ingested 1 new runs" in proc.stdout and "0 failed" in proc.stdout
    with Store.open(db) as store:
        (run,) = store.runs()
        assert (run.harness, run.harness_version, run.model, run.step, run.checkpoint) == (
            "lm-eval", "0.4.13", "med-llama", 1200, CKPT)  # fmt: skip
        stored = {(s.task, s.metric): s for s in store.scores()}
        for task, row in harness["results"].items():
            for metric in ("acc", "extract_fail"):
                s = stored[(task, metric)]
                assert s.value == pytest.approx(100 * row[f"{metric},extract"], rel=1e-12), (task, metric)
                assert s.stderr == pytest.approx(100 * row[f"{metric}_stderr,extract"], rel=1e-12)
        # and they are the scripted model's counted outcome
        for task in TASKS:
            exp = expected_pct([r for r in rows if task_of(r) == task])
            assert stored[(task, "acc")].value == pytest.approx(exp["acc"], rel=1e-12)
            assert stored[(task, "extract_fail")].value == pytest.approx(exp["extract_fail"], rel=1e-12)
            assert stored[(task, "acc")].n == len([r for r in rows if task_of(r) == task])
        assert stored[("medxpert_text", "acc")].is_group and stored[("medxpert_text", "acc")].n == len(rows)
        assert stored[("medxpert_text", "acc")].value == pytest.approx(expected_pct(rows)["acc"], rel=1e-12)
        # per-sample outcomes keyed by doc id, as the regression gate reads them
        samples = store.samples(run.id, "medxpert_text_reasoning")
        reasoning = [r for r in rows if task_of(r) == "medxpert_text_reasoning"]
        assert set(samples) == {r["id"] for r in reasoning}
        for r in reasoning:
            s = samples[r["id"]]
            correct, unreadable = outcome(r)
            assert (s.correct, s.fail) == (int(correct), int(unreadable))
            assert (s.question_type, s.medical_task, s.body_system) == ("Reasoning", r["medical_task"], r["body_system"])
            if correct:
                assert s.pred == r["label"][0]
            if unreadable:
                assert s.pred is None and s.reason
    # the JSON leaderboard shows the same numbers, with harness, n and the no-answer share
    proc = cli("leaderboard", "--db", str(db), "--format", "json", "--no-published")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["rows"]
    cell = row["scores"]["medxpert_text_reasoning"]
    assert cell["value"] == pytest.approx(100 * harness["results"]["medxpert_text_reasoning"]["acc,extract"], rel=1e-12)
    assert cell["extract_fail"] == pytest.approx(100 * harness["results"]["medxpert_text_reasoning"]["extract_fail,extract"], rel=1e-12)
    assert (cell["harness"], row["step"], row["model"]) == ("lm-eval", 1200, "med-llama")


def test_both_harnesses_show_the_same_medxpert_numbers(lm_run, tmp_path):
    rows, results_file, _ = lm_run
    oc_root = tmp_path / "oc_outputs"
    write_opencompass_workdir(oc_root, rows, abbr="med-llama-1200", path=CKPT)
    db = tmp_path / "store.db"
    proc = cli("ingest", str(results_file.parent), str(oc_root), "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert "ingested 2 new runs" in proc.stdout
    proc = cli("leaderboard", "--db", str(db), "--format", "json", "--no-published")
    board = json.loads(proc.stdout)
    by_harness = {r["harness"]: r for r in board["rows"]}
    assert set(by_harness) == {"lm-eval", "opencompass"}
    lm, oc = by_harness["lm-eval"], by_harness["opencompass"]
    assert lm["model"] == oc["model"] == "med-llama" and lm["step"] == oc["step"] == 1200
    for task in TASKS:
        assert oc["scores"][task]["value"] == pytest.approx(lm["scores"][task]["value"], rel=1e-12), task
        assert oc["scores"][task]["extract_fail"] == pytest.approx(lm["scores"][task]["extract_fail"], rel=1e-12)
        assert oc["scores"][task]["stderr"] == pytest.approx(lm["scores"][task]["stderr"], rel=1e-9)
        assert oc["scores"][task]["n"] == lm["scores"][task]["n"]
    # the group exists in OpenCompass only as the summary's 2-decimal number
    assert oc["scores"]["medxpert_text"]["value"] == round(lm["scores"]["medxpert_text"]["value"], 2)
    # and the Markdown table prints them identically
    md = cli("leaderboard", "--db", str(db), "--format", "md", "--no-published", "--tasks", "medxpert_text").stdout
    lines = [line for line in md.splitlines() if line.startswith("| med-llama")]
    assert len(lines) == 2
    lm_cells, oc_cells = lines[0].split("|")[4:-1], lines[1].split("|")[4:-1]
    assert lm_cells[:2] == oc_cells[:2]  # Text R, Text U: value, stderr, no-answer share
    assert lm_cells[2].split()[0] == oc_cells[2].split()[0]  # Text Avg (OpenCompass' summary has no stderr)
    with Store.open(db) as store:
        oc_run = next(r for r in store.runs() if r.harness == "opencompass")
        lm_run_ = next(r for r in store.runs() if r.harness == "lm-eval")
        for task in TASKS:
            a, b = store.samples(oc_run.id, task), store.samples(lm_run_.id, task)
            assert {k: (v.correct, v.fail, v.pred, v.body_system) for k, v in a.items()} == {
                k: (v.correct, v.fail, v.pred, v.body_system) for k, v in b.items()}  # fmt: skip
        assert oc_run.model_args["key"] == "***" and "hunter2" not in json.dumps(oc_run.model_args)
    assert SECRET.encode() not in db.read_bytes() and b"hunter2" not in db.read_bytes()


def test_offline_judge_outputs_are_ingested_with_their_error_share(lm_run, tmp_path):
    from tests.test_judge_e2e import ScriptedJudge

    rows, results_file, _ = lm_run
    (samples,) = results_file.parent.glob("samples_medxpert_text_reasoning_*.jsonl")
    judge = ScriptedJudge([r for r in rows if task_of(r) == "medxpert_text_reasoning"])
    server = ScriptedServer(judge).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDXPERT_", "OPENAI_"))} | {
        "MEDXPERT_JUDGE_API_KEY": SECRET, "MEDXPERT_JUDGE_BASE_URL": server.base_url,
        "MEDXPERT_JUDGE_MODEL": "scripted-judge", "MEDXPERT_JUDGE_MAX_RETRIES": "0",
        "MEDXPERT_JUDGE_CACHE": str(tmp_path / "judge.sqlite"), "COLUMNS": "200"}  # fmt: skip
    try:
        proc = cli("judge", str(samples), "--output-path", str(tmp_path / "judged"), "--no-progress", env=env)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    (judged,) = (tmp_path / "judged").rglob("results_*.json")
    harness = json.loads(judged.read_text())["results"]["medxpert_text_reasoning_judge"]
    db = tmp_path / "store.db"
    proc = cli("ingest", str(tmp_path / "judged"), "--db", str(db), env=env)
    assert proc.returncode == 0, proc.stderr
    with Store.open(db) as store:
        (run,) = store.runs()
        assert run.model == "med-llama" and run.step == 1200
        stored = {s.metric: s for s in store.scores() if s.task == "medxpert_text_reasoning_judge"}
        for metric in ("judge_acc", "judge_error", "agreement"):
            assert stored[metric].value == pytest.approx(100 * harness[f"{metric},judge"], rel=1e-12), metric
        assert stored["judge_prompt_tokens"].unit == "count"
        assert stored["judge_prompt_tokens"].value == harness["judge_prompt_tokens,judge"]
        samples_ = store.samples(run.id, "medxpert_text_reasoning_judge")
        assert sum(s.fail for s in samples_.values()) == round(harness["judge_error,judge"] * len(samples_))
        assert sum(s.fail for s in samples_.values()) > 0  # the scripted judge fails some: they must show
        assert {s.reason for s in samples_.values()} >= {"correct", "incorrect"}
        lb = build(store, published=False)
        cell = lb.rows[0].cells["medxpert_text_reasoning_judge"]
        assert cell.metric == "judge_acc" and cell.fails["judge_error"] == pytest.approx(100 * harness["judge_error,judge"])
    assert SECRET.encode() not in db.read_bytes()
    text = cli("leaderboard", "--db", str(db), "--format", "md", env=env).stdout
    assert "no verdict" in text
