"""Judge rescue end to end: a scripted judge (real HTTP through the judge client) reads only what the rules
could not; the rest send no request; a rerun sends none; nothing unreadable becomes a letter.

Also the lm-eval path (``--metadata '{"rescue": "judge"}'`` on an MCQ task, skipped without the shared data)
and ``medxpert judge --mode extract`` on its samples file, which finds every verdict in the cache.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from medxpert_ext.extract import extract
from medxpert_ext.judge.cache import VerdictCache
from medxpert_ext.judge.rescue import rescue_letters, rescue_scores
from medxpert_ext.judge.settings import JudgeSettings
from tests.helpers import SHARED_DATA, needs_shared_data, read_jsonl
from tests.mcq_script import items_from_rows, question_of
from tests.scripted_server import Reply, user_text

OPTIONS = {"A": "Aspirin", "B": "Heparin", "C": "Metoprolol", "D": "Nitroglycerin", "E": "Percutaneous intervention"}
QUESTION = "A 60-year-old man has chest pain. Which drug first?\nAnswer Choices: " + " ".join(
    f"({k}) {v}" for k, v in OPTIONS.items()
)
TAG = re.compile(r"\[case:(\w+)\]")

# case kind -> (response the model gave, what the scripted judge replies for it; None = never asked)
KINDS: dict[str, tuple[str, str | None]] = {
    "read": ("Weighing it all, the answer is (C).", None),  # the rules read it: never sent
    "prose": ("My pick is the anticoagulant, started at once.", '{"reasoning": "r", "letter": "B"}'),
    "text_form": ("Nitrates are what I would reach for first here.", '```json\n{"reasoning": "r", "letter": "(D)"}\n```'),
    "none": ("I cannot decide without an ECG.", '{"reasoning": "r", "letter": "none"}'),
    "garbage": ("Hmm, hard to say which one.", "I think it could be B or maybe C."),  # unparseable: judge_error
    "out_of_range": ("Something about the fourth drug.", '{"reasoning": "r", "letter": "H"}'),
    "unterminated": ("<think>The answer is (A) unless", None),  # no final answer: never sent
    "empty": ("   ", None),
}


def _docs() -> tuple[list[dict], list[str]]:
    docs, responses = [], []
    for n, (kind, (response, _)) in enumerate(KINDS.items()):
        docs.append({"id": f"q{n}", "question": QUESTION, "letters": "ABCDE", "answer": "B", "source": "unit",
                     "options": [{"letter": k, "content": v} for k, v in OPTIONS.items()]})  # fmt: skip
        responses.append(response if kind in ("unterminated", "empty") else f"[case:{kind}] {response}")
    return docs, responses


class ExtractJudge:
    """Replies by the case tag it finds in the response block; records which cases it was asked about."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, body: dict) -> Reply | str:
        assert "single option letter" in body["messages"][0]["content"]  # the extract mode's system prompt
        text = html.unescape(user_text(body))
        assert "<valid_letters>\nA, B, C, D, E\n</valid_letters>" in text
        assert "<correct_answer>" not in text  # the extract mode never shows the gold answer
        kind = TAG.search(text).group(1)
        self.asked.append(kind)
        reply = KINDS[kind][1]
        assert reply is not None, f"{kind} must never be sent"
        return reply


def _settings(url: str, tmp_path: Path) -> JudgeSettings:
    return JudgeSettings(base_url=url, model="scripted-extract", max_retries=1, cache_path=tmp_path / "v.sqlite")


def test_rescue_sends_only_unread_responses_and_a_rerun_sends_none(scripted_server, tmp_path):
    judge = ExtractJudge()
    server = scripted_server(judge)
    docs, responses = _docs()
    rules = [extract(r, "ABCDE", OPTIONS) for r in responses]
    assert [g.letter for g in rules] == ["C", None, None, None, None, None, None, None]

    result = rescue_letters(docs, responses, rules, _settings(server.base_url, tmp_path), progress=False)
    asked = {"prose", "text_form", "none", "garbage", "out_of_range"}
    assert result.sent == len(asked) and set(judge.asked) >= asked and set(judge.asked) <= asked
    assert result.letters == ["C", "B", "D", None, None, None, None, None]
    assert result.rescued == [False, True, True, False, False, False, False, False]
    assert result.errors == 2  # garbage and out_of_range: left unread, never a guessed letter
    assert result.verdicts[3].status == "correct" and result.verdicts[3].extracted_answer is None
    assert result.verdicts[0] is None and result.verdicts[6] is None and result.verdicts[7] is None
    first = server.count

    # rerun: the three definitive readings come from the cache; only the two failures are asked again
    again = rescue_letters(docs, responses, rules, _settings(server.base_url, tmp_path), progress=False)
    assert again.letters == result.letters and again.cached == 3
    assert server.count - first == 2 * 2  # max_retries=1: two attempts for each of the two failures
    with VerdictCache(tmp_path / "v.sqlite") as cache:
        assert len(cache) == 3

    scores = [rescue_scores(d["answer"], r.letter, x, k) for d, r, x, k in
              zip(docs, rules, result.letters, result.rescued)]  # fmt: skip
    assert sum(s["acc"] for s in scores) == 0 and sum(s["acc_rescued"] for s in scores) == 1
    assert sum(s["rescued"] for s in scores) == 2


def test_rescue_with_nothing_unread_sends_nothing(scripted_server, tmp_path):
    server = scripted_server(lambda body: pytest.fail("no request expected"))
    docs, responses = _docs()
    rules = [extract(r, "ABCDE") for r in responses]
    keep = [0, 6, 7]  # read, unterminated, empty
    result = rescue_letters([docs[i] for i in keep], [responses[i] for i in keep], [rules[i] for i in keep],
                            _settings(server.base_url, tmp_path), progress=False)  # fmt: skip
    assert result.sent == 0 and server.count == 0 and result.letters == ["C", None, None]


# ------------------------------------------------------------------------------------------ lm-eval + CLI


def _model_reply(item) -> str:
    """Styles by question id: the rules read some; others only a reader of prose can; some nothing at all."""
    n = int(re.sub(r"\D", "", item.qid) or 0) % 4
    gold, letters = item.gold, item.letters
    wrong = letters[(letters.index(gold) + 1) % len(letters)]
    return [f"The answer is ({gold}).", f"[gold:{gold}] My pick is the one I circled.",
            f"The answer is ({wrong}).", "[none] I cannot tell."][n]  # fmt: skip


class CliJudge:
    def __call__(self, body: dict) -> str:
        text = html.unescape(user_text(body))
        found = re.search(r"\[gold:([A-J])\]", text)
        return json.dumps({"reasoning": "scripted", "letter": found.group(1) if found else "none"})


@pytest.mark.e2e
@needs_shared_data
def test_lm_eval_rescue_metadata_and_offline_extract_mode(scripted_server, tmp_path):
    rows = read_jsonl(SHARED_DATA / "medxpertqa" / "text_sampled.jsonl")
    items = items_from_rows(rows)
    model = scripted_server(lambda body: _model_reply(items[question_of(user_text(body))]))
    judge = scripted_server(CliJudge())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDXPERT_", "OPENAI_"))} | {
        "MEDXPERT_JUDGE_API_KEY": "sk-unused", "MEDXPERT_JUDGE_BASE_URL": judge.base_url,
        "MEDXPERT_JUDGE_MODEL": "scripted-extract", "MEDXPERT_JUDGE_CACHE": str(tmp_path / "judge.sqlite"),
    }  # fmt: skip
    kinds = [int(re.sub(r"\D", "", it.qid) or 0) % 4 for it in items.values()]
    n = len(kinds)
    expected = {"acc": kinds.count(0) / n, "acc_rescued": (kinds.count(0) + kinds.count(1)) / n,
                "rescued": kinds.count(1) / n, "extract_fail": (kinds.count(1) + kinds.count(3)) / n}  # fmt: skip

    def run(out: Path) -> dict:  # one lm-eval run (the rerun below is the offline CLI on the same cache)
        cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
               "--model_args", f"model=scripted,base_url={model.chat_url},num_concurrent=16,max_retries=1,tokenized_requests=False",
               "--apply_chat_template", "--tasks", "medxpert_text_sampled",
               "--metadata", json.dumps({"data_dir": str(SHARED_DATA), "rescue": "judge"}),
               "--output_path", str(out), "--log_samples"]  # fmt: skip
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=900)
        assert proc.returncode == 0, proc.stderr[-4000:]
        (results_file,) = out.rglob("results_*.json")
        return json.loads(results_file.read_text())["results"]["medxpert_text_sampled"]

    row = run(tmp_path / "run1")
    for key, value in expected.items():
        assert row[f"{key},extract"] == pytest.approx(value, abs=1e-12), key
    assert 0 < expected["rescued"] < expected["extract_fail"]  # the script exercises both outcomes
    assert judge.count == kinds.count(1) + kinds.count(3)  # only the unread ones were sent

    (samples,) = (tmp_path / "run1").rglob("samples_medxpert_text_sampled_*.jsonl")
    proc = subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "judge", "--mode", "extract", str(samples),
                           "--output-path", str(tmp_path / "judged"), "--no-progress"],
                          check=False, capture_output=True, text=True, env=env | {"COLUMNS": "200"}, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert judge.count == kinds.count(1) + kinds.count(3)  # a rerun: every reading came from the cache
    (offline_file,) = (tmp_path / "judged").rglob("results_*.json")
    offline = json.loads(offline_file.read_text())["results"]["medxpert_text_sampled_rescue"]
    for key, value in expected.items():
        assert offline[f"{key},rescue"] == pytest.approx(value, abs=1e-12), key


def test_opencompass_evaluator_rescues_the_same_and_pays_nothing_after_lm_eval(scripted_server, tmp_path, monkeypatch):
    """The OpenCompass evaluator with rescue="judge" calls the same core: same letters, same cache keys (a
    rescue bought through lm-eval's path is free here)."""
    pytest.importorskip("opencompass")
    from datasets import Dataset

    from medxpert_ext.harness.opencompass import McqEvaluator
    from medxpert_ext.harness.opencompass.datasets import _row

    judge = ExtractJudge()
    server = scripted_server(judge)
    docs, responses = _docs()
    rules = [extract(r, "ABCDE", OPTIONS) for r in responses]
    settings = _settings(server.base_url, tmp_path)
    expected = rescue_letters(docs, responses, rules, settings, progress=False)
    bought = server.count
    monkeypatch.setenv("MEDXPERT_JUDGE_CACHE", str(tmp_path / "v.sqlite"))
    evaluator = McqEvaluator(task="unit", rescue="judge", base_url=server.base_url, model="scripted-extract",
                             max_retries=1)  # fmt: skip
    result = evaluator.score(responses, ["B"] * len(docs), Dataset.from_list([_row(d, "p") for d in docs]))
    assert [d["rescued_pred"] for d in result["details"]] == expected.letters
    assert [d["scores"]["rescued"] for d in result["details"]] == [float(x) for x in expected.rescued]
    assert result["acc"] == 0 and result["acc_rescued"] == pytest.approx(100 / len(docs))
    assert server.count - bought == 2 * 2  # only the two readings the judge could not give are asked again
