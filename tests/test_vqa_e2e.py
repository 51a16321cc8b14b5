"""Medical VQA end to end: synthetic image datasets for every dataset name, the real lm-eval run through
`medxpert lm-eval` + local-chat-completions, and a scripted model that answers from the decoded images.

Each reply style has a hand-worked outcome (tests/vqa_synth.py), so closed, open and MCQ scores are exact; the
model can only give the scripted answer if it received the question's own image.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.vqa_synth import (
    CLOSED_STYLES,
    MCQ_STYLES,
    OPEN_STYLES,
    VqaModel,
    open_scores,
    style_key,
    style_of,
    write_dataset,
)

pytestmark = pytest.mark.e2e
OPEN_CLOSED = ("vqarad", "slake", "pathvqa", "quiltvqa")


def _mean(values):
    values = list(values)
    return sum(values) / len(values)


def expected_closed(pairs):
    rows = [(r, s) for r, s in pairs if r.get("answer_type") == "closed"]
    outcomes = [CLOSED_STYLES[style_of(style_key(r["question"], s), CLOSED_STYLES)] for r, s in rows]
    return {"closed_acc": _mean(o[0] for o in outcomes), "closed_unreadable": _mean(o[1] for o in outcomes)}


def expected_open(pairs):
    rows = [(r, s) for r, s in pairs if r.get("answer_type") == "open"]
    scores = [open_scores(style_of(style_key(r["question"], s), OPEN_STYLES)) for r, s in rows]
    return {k: _mean(sc[k] for sc in scores) for k in ("recall", "f1", "exact_match")}


def expected_vqamed_bleu(pairs):
    """VQA-Med-2021's BLEU per question (stopwords dropped, stemmed, NLTK<=3.2.5 sentence BLEU: n-gram orders
    without a match are left out): "red" vs "red" -> 1; "The lesion appears red." -> "lesion appear red" vs
    "red": unigram precision 1/3, no higher-order match, no brevity penalty -> (1/3)^0.25; a wrong word -> 0."""
    per_style = {"exact": 1.0, "sentence": (1 / 3) ** 0.25, "wrong": 0.0}
    return _mean(per_style[style_of(style_key(r["question"], s), OPEN_STYLES)] for r, s in pairs)


def expected_mcq(pairs):
    outcomes = [MCQ_STYLES[style_of(style_key(r["question"], s), MCQ_STYLES)] for r, s in pairs]
    return {"acc": _mean(o[0] for o in outcomes), "extract_fail": _mean(o[1] for o in outcomes)}


@pytest.fixture(scope="module")
def vqa_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("vqa_root")
    data = {name: write_dataset(root, name, n=30) for name in OPEN_CLOSED}
    data["vqamed2021"] = [(r, s) for r, s in write_dataset(root, "vqamed2021", n=40) if r["answer_type"] == "open"]
    # keep only the open questions of vqamed2021, like the real set (rewrite its test.jsonl + checksums)
    from medxpert_ext.vqa_prepare import write_checksums

    folder = root / "vqa" / "vqamed2021"
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r, _ in data["vqamed2021"]))
    write_checksums(folder)
    data["pmcvqa"] = write_dataset(root, "pmcvqa", n=30, mcq=True)
    data["omnimedvqa"] = write_dataset(root, "omnimedvqa", n=20, mcq=True)
    return root, data


def test_every_vqa_dataset_scores_exactly_from_the_images(scripted_server, vqa_root, tmp_path):
    root, data = vqa_root
    model = VqaModel()
    server = scripted_server(model)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
           "--model_args", f"model=scripted,base_url={server.chat_url},num_concurrent=16,max_retries=1,"
           "tokenized_requests=False,max_images=1",
           "--apply_chat_template", "--tasks", "medvqa,medvqa_omnimedvqa",
           "--metadata", json.dumps({"data_dir": str(root)}), "--output_path", str(out), "--log_samples"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not server.errors, server.errors[0]
    assert model.no_image == 0
    (results_file,) = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())["results"]

    for name in OPEN_CLOSED:
        closed, opened = results[f"medvqa_{name}_closed"], results[f"medvqa_{name}_open"]
        for key, value in expected_closed(data[name]).items():
            assert closed[f"{key},answer"] == pytest.approx(value, abs=1e-12), (name, key)
        for key, value in expected_open(data[name]).items():
            assert opened[f"{key},answer"] == pytest.approx(value, abs=1e-12), (name, key)
    for key, value in expected_open(data["vqamed2021"]).items():
        assert results["medvqa_vqamed2021"][f"{key},answer"] == pytest.approx(value, abs=1e-12), key
    assert results["medvqa_vqamed2021"]["bleu,answer"] == pytest.approx(expected_vqamed_bleu(data["vqamed2021"]), abs=1e-9)
    for name in ("pmcvqa", "omnimedvqa"):
        for key, value in expected_mcq(data[name]).items():
            assert results[f"medvqa_{name}"][f"{key},extract"] == pytest.approx(value, abs=1e-12), (name, key)
    n = sum(len(v) for v in data.values())
    assert server.count == n
    # the mix exercises every outcome
    assert 0 < expected_closed(data["vqarad"])["closed_unreadable"] < 1


def _block(text: str, name: str) -> str:
    import html

    return html.unescape(text.split(f"<{name}>\n", 1)[1].split(f"\n</{name}>", 1)[0])


def test_open_questions_judged_against_the_reference(scripted_server, vqa_root, tmp_path):
    """medvqa_<name>_judge: the judge (open mode) sees reference and response; says yes when the response holds
    the reference word. Sentence-style answers are right for the judge though not an exact match."""
    from tests.scripted_server import user_text

    root, data = vqa_root
    model = scripted_server(VqaModel())

    def judge(body):
        text = user_text(body)
        ok = _block(text, "reference_answer").lower() in _block(text, "response").lower()
        return json.dumps({"reasoning": "scripted", "correct": "yes" if ok else "no"})

    judge_server = scripted_server(judge)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MEDXPERT_")}
    env |= {"MEDXPERT_JUDGE_CACHE": str(tmp_path / "judge.sqlite")}
    cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
           "--model_args", f"model=scripted,base_url={model.chat_url},num_concurrent=8,max_retries=1,"
           "tokenized_requests=False,max_images=1", "--apply_chat_template", "--tasks", "medvqa_vqarad_judge",
           "--metadata", json.dumps({"data_dir": str(root), "judge_base_url": judge_server.base_url,
                                     "judge_model": "scripted-judge"}),
           "--output_path", str(tmp_path / "out")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (results_file,) = (tmp_path / "out").rglob("results_*.json")
    row = json.loads(results_file.read_text())["results"]["medvqa_vqarad_judge"]
    opened = [(r, s) for r, s in data["vqarad"] if r["answer_type"] == "open"]
    right = [style_of(style_key(r["question"], s), OPEN_STYLES) != "wrong" for r, s in opened]
    assert judge_server.count == len(opened)
    assert row["judge_acc,judge"] == pytest.approx(sum(right) / len(right), abs=1e-12)
    assert row["judge_error,judge"] == 0.0
