"""Inputs for the results-store tests: a small synthetic MedXpertQA Text set, the scripted model's known outcome
per question, and an OpenCompass 0.5.4 work dir written in the exact layout and results contract of the pack's
OpenCompass adapter (built from the scripted outcomes, independently of the lm-eval run).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import write_jsonl
from tests.mcq_script import OUTCOME, style_by_hash

LETTERS = "ABCDEFGHIJ"
TASKS = ("medxpert_text_reasoning", "medxpert_text_understanding")
MEDICAL_TASKS = ("Diagnosis", "Treatment", "Basic Science")
BODY_SYSTEMS = ("Cardiovascular", "Respiratory", "Nervous", "Digestive")
SECRET = "sk-test-DO-NOT-STORE-4b1d"


def text_rows(n: int = 48, n_reasoning: int = 32) -> list[dict]:
    return [
        {
            "id": f"Text-{i}",
            "question": f"Synthetic store question {i}?\nAnswer Choices: " + " ".join(f"({k}) option {k}{i}" for k in LETTERS),
            "options": [{"letter": k, "content": f"option {k}{i}"} for k in LETTERS],
            "label": [LETTERS[(i * 3) % 10]],
            "question_type": "Reasoning" if i < n_reasoning else "Understanding",
            "medical_task": MEDICAL_TASKS[i % 3],
            "body_system": BODY_SYSTEMS[i % 4],
        }
        for i in range(n)
    ]


def write_text_data(root: Path, rows: list[dict]) -> Path:
    write_jsonl(root / "medxpertqa" / "text_test.jsonl", rows)
    return root


def task_of(row: dict) -> str:
    return "medxpert_text_reasoning" if row["question_type"] == "Reasoning" else "medxpert_text_understanding"


def outcome(row: dict) -> tuple[bool, bool]:
    """(correct, unreadable) of the scripted model (tests/mcq_script.py) on this question."""
    return OUTCOME[style_by_hash(row["question"].strip())]


def expected_pct(rows: list[dict]) -> dict[str, float]:
    """acc / extract_fail in percent over these rows, counted from the script."""
    outs = [outcome(r) for r in rows]
    return {"acc": 100 * sum(o[0] for o in outs) / len(outs), "extract_fail": 100 * sum(o[1] for o in outs) / len(outs)}


CONFIG = """\
models = [
    dict(
        abbr='{abbr}',
        type='OpenAISDK',
        path='{path}',
        key='{secret}',
        openai_api_base='http://evaluser:hunter2@127.0.0.1:8000/v1',
        max_out_len=4096,
        batch_size=8,
        generation_kwargs=dict(temperature=0.0),
    ),
]
datasets = [dict(abbr='medxpert_text_reasoning', type='MedXpertDataset'), dict(abbr='medxpert_text_understanding', type='MedXpertDataset')]
work_dir = 'outputs/default/{stamp}'
"""


def write_opencompass_workdir(work_dir: Path, rows: list[dict], *, abbr: str, path: str, stamp: str = "20261130_101500",
                              details: bool = True, pack_version: str = "0.1.0") -> Path:  # fmt: skip
    """``<work_dir>/<stamp>/`` as OpenCompass 0.5.4 lays it out, with the pack evaluators' results contract."""
    wd = work_dir / stamp
    (wd / "configs").mkdir(parents=True)
    (wd / "configs" / f"{stamp}_4242.py").write_text(CONFIG.format(abbr=abbr, path=path, secret=SECRET, stamp=stamp))
    per_task: dict[str, list[dict]] = {t: [r for r in rows if task_of(r) == t] for t in TASKS}
    summary = [["dataset", "version", "metric", "mode", abbr]]
    for task, trs in per_task.items():
        preds, det = {}, []
        for i, r in enumerate(trs):
            correct, unreadable = outcome(r)
            gold = r["label"][0]
            pred = None if unreadable else gold if correct else LETTERS[(LETTERS.index(gold) + 1) % 10]
            preds[str(i)] = {"origin_prompt": r["question"], "prediction": f"The answer is ({pred})", "gold": gold}
            det.append({"id": r["id"], "pred": pred, "reason": style_by_hash(r["question"].strip()) if unreadable else None,
                        "correct": correct, "scores": {"acc": int(correct), "extract_fail": int(unreadable)},
                        "question_type": r["question_type"], "medical_task": r["medical_task"],
                        "body_system": r["body_system"], "answer_type": None})  # fmt: skip
        pct = expected_pct(trs)
        res = {**pct, "medxpert": {"harness": "opencompass", "scale": 100, "n": len(trs), "pack_version": pack_version,
                                   "task": task}}  # fmt: skip
        if details:
            res["details"] = det
        if task == "medxpert_text_understanding":  # as OpenCompass 0.5.4's eval task really stores them: one list
            res["medxpert"] = [res["medxpert"]]  # entry per rollout (seen on the pack adapter's real runs)
            if details:
                res["details"] = [{"example_abbr": f"{task}_{i}", **{k: [v] for k, v in d.items()}} for i, d in enumerate(det)]
        for sub in ("predictions", "results"):
            (wd / sub / abbr).mkdir(parents=True, exist_ok=True)
        (wd / "predictions" / abbr / f"{task}.json").write_text(json.dumps(preds, indent=4))
        (wd / "results" / abbr / f"{task}.json").write_text(json.dumps(res, indent=4))
        summary += [[task, "a1b2c3", m, "gen", f"{pct[m]:.02f}"] for m in ("acc", "extract_fail")]
    group = expected_pct(rows)  # medxpert_text: weighted by size, like lm-eval's group
    summary += [["medxpert_text", "-", m, "gen", f"{group[m]:.02f}"] for m in ("acc", "extract_fail")]
    (wd / "summary").mkdir()
    csv_text = "\n".join(",".join(r) for r in summary) + "\n"
    (wd / "summary" / f"summary_{stamp}.csv").write_text(csv_text)
    (wd / "summary" / f"summary_{stamp}.txt").write_text(f"{stamp}\ncsv format\n{csv_text}")
    (wd / "summary" / f"summary_{stamp}.md").write_text("| " + " | ".join(summary[0]) + " |\n")
    return wd


def lmeval_results(model_name: str, scores: dict[str, dict[str, float]], *, date_id: str = "2026-11-30T10-00-00.000001",
                   model_args: str | dict | None = None, n: int = 100, groups: dict | None = None) -> dict:  # fmt: skip
    """An lm-eval 0.4.13-shaped results object (keys as lm_eval/loggers/evaluation_tracker.py writes them), for
    tests that need many runs quickly; the e2e tests use real lm-eval outputs."""
    return {
        "results": {t: {"alias": t, **{f"{k},extract": v for k, v in m.items()},
                        **{f"{k}_stderr,extract": 0.01 for k in m}} for t, m in scores.items()},  # fmt: skip
        "group_subtasks": groups or {t: [] for t in scores},
        "configs": {t: {"task": t, "generation_kwargs": {"temperature": 0.0, "max_gen_toks": 4096}} for t in scores},
        "versions": {t: 1.0 for t in scores},
        "n-shot": {t: 0 for t in scores},
        "n-samples": {t: {"original": n, "effective": n} for t in scores},
        "config": {"model": "hf", "model_args": model_args or f"pretrained={model_name}", "gen_kwargs": {}, "limit": None},
        "git_hash": "abc1234",
        "date": 1796000000.0,
        "lm_eval_version": "0.4.13",
        "model_name": model_name,
        "model_name_sanitized": model_name.replace("/", "__"),
    }


def write_lmeval_run(folder: Path, model_name: str, scores: dict[str, dict[str, float]], *,
                     date_id: str = "2026-11-30T10-00-00.000001", samples: dict[str, list[dict]] | None = None,
                     **kw) -> Path:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"results_{date_id}.json"
    path.write_text(json.dumps(lmeval_results(model_name, scores, date_id=date_id, **kw), indent=2))
    for task, rows in (samples or {}).items():
        write_jsonl(folder / f"samples_{task}_{date_id}.jsonl", rows)
    return path


def lmeval_sample(doc_id: int, sid: str, correct: bool, unreadable: bool, **doc) -> dict:
    return {"doc_id": doc_id, "doc": {"id": sid, **doc}, "target": "A", "arguments": {}, "resps": [["..."]],
            "filtered_resps": ["[no answer: garbage]" if unreadable else ("A" if correct else "B")], "filter": "extract",
            "metrics": ["acc", "extract_fail"], "acc": float(correct), "extract_fail": float(unreadable)}  # fmt: skip
