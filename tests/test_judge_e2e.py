"""The judge where users run it: the lm-eval `*_judge` variant and the offline `medxpert judge`, end to end.

A scripted model answers the 244 official Text questions in known styles; a scripted judge returns known
verdicts (and a permanent 500 for some samples). Both paths must report the same exact numbers, share the cache,
and never write the API key anywhere.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medxpert_ext.judge.metrics import calibration_error
from tests.helpers import SHARED_DATA, needs_shared_data, read_jsonl
from tests.mcq_script import OUTCOME, McqScript, items_from_rows, style_by_hash
from tests.scripted_server import Reply, user_text

pytestmark = [pytest.mark.e2e, needs_shared_data]
SECRET = "sk-test-medxpert-0123456789-SECRET"
BROKEN = 10  # every BROKEN-th question (by sorted id) gets a permanent 500 from the judge


class ScriptedJudge:
    """Finds the question in the judge request; says "yes" for the correct styles except json_correct (a
    scripted disagreement with the rule extractor); confidence 80 when it says yes, 40 when no."""

    def __init__(self, rows: list[dict]):
        ids = sorted(r["id"] for r in rows)
        self.broken = {i for n, i in enumerate(ids) if n % BROKEN == 0}
        self.by_question = {r["question"].strip(): r for r in rows}

    def verdict(self, row: dict) -> tuple[bool, int] | None:
        if row["id"] in self.broken:
            return None
        style = style_by_hash(row["question"].strip())
        if style == "truncated_reasoning":
            return None  # never sent: no final answer, decided locally
        yes = OUTCOME[style][0] and style != "json_correct"
        return yes, 80 if yes else 40

    def __call__(self, body: dict):
        text = html.unescape(user_text(body))  # the judge prompt escapes <, > and & of the data blocks
        row = next(r for q, r in self.by_question.items() if q[:200] in text)
        if row["id"] in self.broken:
            return Reply(status=500)
        yes, conf = self.verdict(row)
        return json.dumps({"extracted_final_answer": row["label"][0] if yes else "None", "reasoning": "scripted",
                           "correct": "yes" if yes else "no", "confidence": conf})  # fmt: skip


def _env(tmp_path: Path, judge_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDXPERT_", "OPENAI_"))}
    return env | {
        "MEDXPERT_JUDGE_API_KEY": SECRET,
        "MEDXPERT_JUDGE_CACHE": str(tmp_path / "cache" / "judge.sqlite"),
        "MEDXPERT_JUDGE_BASE_URL": judge_url,
        "MEDXPERT_JUDGE_MODEL": "scripted-judge",
        "MEDXPERT_JUDGE_MAX_RETRIES": "1",
    }


def _expected(judge: ScriptedJudge, rows: list[dict]) -> dict[str, float]:
    judged, correct, agree, pairs = 0, 0, 0, []
    for r in rows:
        style = style_by_hash(r["question"].strip())
        if r["id"] in judge.broken and style != "truncated_reasoning":
            continue
        v = judge.verdict(r) or (False, 100)  # truncated reasoning: incorrect, HLE's default confidence 100
        judged += 1
        correct += v[0]
        agree += v[0] == OUTCOME[style][0]
        pairs.append(v)
    return {
        "judge_acc": correct / judged,
        "judge_error": (len(rows) - judged) / len(rows),
        "agreement": agree / judged,
        "calibration_error": calibration_error([c for _, c in pairs], [y for y, _ in pairs]),
    }


def test_lm_eval_judge_variant_and_offline_judge_agree_and_share_the_cache(scripted_server, tmp_path):
    rows = read_jsonl(SHARED_DATA / "medxpertqa" / "text_sampled.jsonl")
    model = scripted_server(McqScript(items_from_rows(rows), style_by_hash))
    judge = ScriptedJudge(rows)
    judge_server = scripted_server(judge)
    env = _env(tmp_path, judge_server.base_url)
    expected = _expected(judge, rows)
    disagreeing = sorted(r["id"] for r in rows if style_by_hash(r["question"].strip()) == "json_correct"
                         and r["id"] not in judge.broken)  # fmt: skip

    # 1. the lm-eval task variant: the model's run and the judge in one go
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
           "--model_args", f"model=scripted,base_url={model.chat_url},num_concurrent=16,max_retries=1,tokenized_requests=False",
           "--apply_chat_template", "--tasks", "medxpert_text_sampled,medxpert_text_sampled_judge",
           "--metadata", json.dumps({"data_dir": str(SHARED_DATA)}), "--output_path", str(out), "--log_samples"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not judge_server.errors, judge_server.errors[0]
    (results_file,) = out.rglob("results_*.json")
    row = json.loads(results_file.read_text())["results"]["medxpert_text_sampled_judge"]
    for key, value in expected.items():
        assert row[f"{key},judge"] == pytest.approx(value, abs=1e-12), key
    assert 0 < expected["judge_error"] < 0.5 and expected["agreement"] < 1
    assert row["judge_prompt_tokens,judge"] > 0
    sent_first = judge_server.count
    n_broken_sent = len([r for r in rows if r["id"] in judge.broken and style_by_hash(r["question"].strip()) != "truncated_reasoning"])
    assert sent_first == (244 - n_broken_sent - sum(style_by_hash(r["question"].strip()) == "truncated_reasoning" for r in rows)) + 2 * n_broken_sent
    assert "rerun the same command to retry them" in proc.stderr
    (judge_samples,) = out.rglob("samples_medxpert_text_sampled_judge_*.jsonl")
    logged = {s["doc"]["id"]: json.loads(s["filtered_resps"][0]) for s in read_jsonl(judge_samples)}
    assert sorted(i for i, rec in logged.items() if rec["agreement"] is False) == disagreeing
    some = next(i for i in logged if logged[i]["verdict"] == "correct")
    assert logged[some]["confidence"] == 80 and logged[some]["judge_reasoning"] == "scripted"

    # 2. offline: re-score the plain task's samples; every verdict already received comes from the cache
    (plain_samples,) = out.rglob("samples_medxpert_text_sampled_2*.jsonl")
    judged_dir = tmp_path / "judged"
    proc = subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "judge", str(plain_samples),
                           "--output-path", str(judged_dir), "--no-progress"],
                          capture_output=True, text=True, env=env | {"COLUMNS": "200"}, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert judge_server.count - sent_first == 2 * n_broken_sent  # only the failed ones are asked again
    (offline_file,) = judged_dir.rglob("results_*.json")
    offline = json.loads(offline_file.read_text())
    assert offline_file.parent.name == results_file.parent.name  # same model folder as the lm-eval run
    orow = offline["results"]["medxpert_text_sampled_judge"]
    for key, value in expected.items():
        assert orow[f"{key},judge"] == pytest.approx(value, abs=1e-12), key
    assert sorted(offline["judge"]["disagreements"]["medxpert_text_sampled_judge"]) == disagreeing
    assert offline["judge"]["api_key_env"] == "MEDXPERT_JUDGE_API_KEY"
    assert offline["config"]["model"] == "local-chat-completions"
    # both results files trace the numbers to the questions: data root + checksum of the file read
    import hashlib

    sha = hashlib.sha256((SHARED_DATA / "medxpertqa" / "text_sampled.jsonl").read_bytes()).hexdigest()
    lm_configs = json.loads(results_file.read_text())["configs"]
    for record in (offline["medxpert_data"]["medxpert_text_sampled_judge"],
                   lm_configs["medxpert_text_sampled_judge"]["metadata"]["medxpert_data"]):  # fmt: skip
        assert record["files"]["medxpertqa/text_sampled.jsonl"]["sha256"] == sha
    assert "rerun the same command" in proc.stdout

    # the key appears in no file the runs wrote, nor in their output
    for path in [*tmp_path.rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in proc.stdout + proc.stderr
