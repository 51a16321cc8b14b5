"""Real lm-eval runs through `medxpert lm-eval` + local-chat-completions against the scripted server.

Exact scores: every reply style has a known outcome (tests/mcq_script.py), so acc and extract_fail are counted
independently of the pack and must match lm-eval's results file to the last digit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SHARED_DATA, needs_shared_data, read_jsonl, write_jsonl
from tests.mcq_script import OUTCOME, McqScript, items_from_rows, reply_text, style_by_hash

pytestmark = [pytest.mark.e2e, needs_shared_data]


def run_medxpert_lm_eval(server, tasks: str, data_root: Path, out: Path, *, max_images: int | None = None,
                         extra: list[str] = ()) -> tuple[dict, Path]:  # fmt: skip
    model_args = f"model=scripted,base_url={server.chat_url},num_concurrent=32,max_retries=1,tokenized_requests=False"
    if max_images:
        model_args += f",max_images={max_images}"
    cmd = [
        sys.executable, "-m", "medxpert_ext.cli", "lm-eval",
        "--model", "local-chat-completions", "--model_args", model_args, "--apply_chat_template",
        "--tasks", tasks, "--metadata", json.dumps({"data_dir": str(data_root)}),
        "--output_path", str(out), "--log_samples", *extra,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not server.errors, server.errors[0]
    (results_file,) = out.rglob("results_*.json")
    return json.loads(results_file.read_text()), results_file.parent


def metric(results: dict, task: str, name: str) -> float:
    return results["results"][task][f"{name},extract"]


def test_medxpert_groups_reproduce_the_papers_columns(scripted_server, mm_images_root, tmp_path):
    """GPT-4o's row of the MedXpertQA paper, replayed: per-subset counts in, the paper's Avg columns out.

    Text is synthetic (the full Text test is not in ../shared/data) with the real subset sizes; MM is the real
    2,000-question file with generated placeholder images, which the server checks arrive with each question.
    """
    root = tmp_path / "root"
    (root / "medxpertqa").mkdir(parents=True)
    (root / "medxpertqa" / "mm_test.jsonl").symlink_to(SHARED_DATA / "medxpertqa" / "mm_test.jsonl")
    (root / "medxpertqa" / "images").symlink_to(mm_images_root / "medxpertqa" / "images")
    letters = "ABCDEFGHIJ"
    text_rows = [
        {
            "id": f"Text-{i}",
            "question": f"Synthetic question {i}?\nAnswer Choices: " + " ".join(f"({k}) option {k}{i}" for k in letters),
            "options": [{"letter": k, "content": f"option {k}{i}"} for k in letters],
            "label": [letters[i % 10]],
            "question_type": "Reasoning" if i < 1861 else "Understanding",
            "medical_task": "Diagnosis",
            "body_system": "Cardiovascular",
        }
        for i in range(2450)
    ]
    write_jsonl(root / "medxpertqa" / "text_test.jsonl", text_rows)
    mm_rows = read_jsonl(SHARED_DATA / "medxpertqa" / "mm_test.jsonl")

    # GPT-4o in the paper: Text R 570/1861, U 174/589; MM R 589/1446, U 267/554 correct.
    n_correct = {("Text", "Reasoning"): 570, ("Text", "Understanding"): 174, ("MM", "Reasoning"): 589,
                 ("MM", "Understanding"): 267}  # fmt: skip
    failing = ["wrong", "truncated_reasoning", "garbage", "conflicting"]
    styles, seen = {}, {k: 0 for k in n_correct}
    for kind, rows in (("Text", text_rows), ("MM", mm_rows)):
        for row in rows:
            key = (kind, row["question_type"])
            styles[row["question"].strip()] = "correct" if seen[key] < n_correct[key] else failing[seen[key] % 4]
            seen[key] += 1
    script = McqScript(items_from_rows(text_rows + mm_rows), styles.__getitem__, max_images=6)
    server = scripted_server(script)

    results, _ = run_medxpert_lm_eval(server, "medxpert", root, tmp_path / "out", max_images=6)

    assert server.count == 4450
    assert script.image_mismatches == 0, script.mismatch_examples[:3]
    pct = {task: round(100 * metric(results, task, "acc"), 2) for task in results["results"]}
    assert pct == {
        "medxpert": 35.96,
        "medxpert_text": 30.37,
        "medxpert_text_reasoning": 30.63,
        "medxpert_text_understanding": 29.54,
        "medxpert_mm": 42.80,
        "medxpert_mm_reasoning": 40.73,
        "medxpert_mm_understanding": 48.19,
    }
    assert metric(results, "medxpert", "acc") == pytest.approx(1600 / 4450, abs=1e-12)
    # failing styles cycle wrong/truncated/garbage/conflicting: 3 of every 4 are unreadable
    fails = {k: sum(1 for i in range(n_correct[k], total) if failing[i % 4] != "wrong")
             for k, total in {("Text", "Reasoning"): 1861, ("Text", "Understanding"): 589,
                              ("MM", "Reasoning"): 1446, ("MM", "Understanding"): 554}.items()}  # fmt: skip
    assert metric(results, "medxpert_mm_reasoning", "extract_fail") == pytest.approx(fails[("MM", "Reasoning")] / 1446)
    assert metric(results, "medxpert", "extract_fail") == pytest.approx(sum(fails.values()) / 4450)
    assert results["n-samples"]["medxpert_mm_understanding"]["effective"] == 554


def test_sampled_text_and_mcq_suite_exact_scores(scripted_server, tmp_path):
    """Real questions from ../shared/data: the 244 official Text subset and the 6,545-question suite."""
    files = {
        "medxpert_text_sampled": "medxpertqa/text_sampled.jsonl",
        "medbench_medqa": "medbench/medqa_test.jsonl",
        "medbench_medmcqa": "medbench/medmcqa_dev.jsonl",
        "medbench_mmlu_medical": "medbench/mmlu_medical_test.jsonl",
    }
    rows = {task: read_jsonl(SHARED_DATA / path) for task, path in files.items()}
    script = McqScript(items_from_rows([r for rs in rows.values() for r in rs]), style_by_hash)
    server = scripted_server(script)

    results, out_dir = run_medxpert_lm_eval(server, "medxpert_text_sampled,medbench", SHARED_DATA, tmp_path / "out")

    assert server.count == 244 + 6545
    for task, task_rows in rows.items():
        acc, fail = script.expected(r["question"].strip() for r in task_rows)
        assert metric(results, task, "acc") == pytest.approx(acc, abs=1e-12), task
        assert metric(results, task, "extract_fail") == pytest.approx(fail, abs=1e-12), task
    suite = [r["question"].strip() for t in files if t.startswith("medbench") for r in rows[t]]
    acc, fail = script.expected(suite)
    assert len(suite) == 6545
    assert metric(results, "medbench", "acc") == pytest.approx(acc, abs=1e-12)
    assert metric(results, "medbench", "extract_fail") == pytest.approx(fail, abs=1e-12)
    assert 0.3 < acc < 0.6 and 0.3 < fail < 0.6  # the mix really exercises every outcome

    # --log_samples keeps what an audit needs
    (samples_file,) = out_dir.glob("samples_medxpert_text_sampled_*.jsonl")
    samples = read_jsonl(samples_file)
    assert len(samples) == 244
    by_id = {s["doc"]["id"]: s for s in samples}
    first = rows["medxpert_text_sampled"][0]
    assert [by_id[first["id"]]["doc"][k] for k in ("question_type", "medical_task", "body_system")] == [
        first["question_type"], first["medical_task"], first["body_system"]]  # fmt: skip
    for row in rows["medxpert_text_sampled"]:
        s, question = by_id[row["id"]], row["question"].strip()
        style = style_by_hash(question)
        assert s["resps"][0][0] == reply_text(style, script.items[question])  # the raw response
        correct, unreadable = OUTCOME[style]
        assert s["acc"] == float(correct) and s["extract_fail"] == float(unreadable)
        if correct:
            assert s["filtered_resps"][0] == row["label"][0]  # the extracted letter
        elif unreadable:
            assert s["filtered_resps"][0].startswith("[no answer: ")

    # and the breakdown reads them back
    proc = subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "breakdown", str(samples_file)],
                          capture_output=True, text=True, env={"COLUMNS": "200", "PATH": ""})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    acc_text, _ = script.expected(r["question"].strip() for r in rows["medxpert_text_sampled"])
    assert f"{100 * acc_text:.2f}" in proc.stdout and "244" in proc.stdout
    assert "Basic Science" in proc.stdout and "Reasoning" in proc.stdout
