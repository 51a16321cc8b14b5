"""``medxpert judge``: re-score lm-eval samples files after the evaluated model has released the GPU.

``--mode extract`` (:func:`rescue_samples`) instead lets the judge read only the MCQ responses the rules could
not, and writes ``<task>_rescue`` results: ``acc`` (rules only, as the run reported it), ``acc_rescued``,
``rescued`` (share of samples read by the judge), ``extract_fail`` (rules) and ``unread`` (after the rescue).

Reads ``samples_<task>_<time>.jsonl`` of our multiple-choice and open-VQA tasks, judges every response (cached verdicts cost
nothing), and writes an lm-eval-shaped ``results_<time>.json`` (task ``<task>_judge``, metric keys
``judge_acc,judge`` ...) plus per-sample verdicts, under ``<output>/<the samples' model folder>/`` so the
leaderboard reads it like any lm-eval run.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..data import DataError, iter_jsonl
from ..metrics.aggregate import calibration, judged_mean, total
from .samples import judge_responses, sample_metrics, sample_record
from .settings import JudgeSettings

FILTER = "judge"
SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<stamp>\d{4}-\d{2}-\d{2}T[\d\-.]+)\.jsonl$")
AGGREGATE = {
    "judge_acc": judged_mean,
    "judge_error": judged_mean,
    "calibration_error": calibration,
    "agreement": judged_mean,
    "judge_prompt_tokens": total,
    "judge_completion_tokens": total,
}


class SamplesError(DataError):
    """A samples file we cannot judge; the message names the file and line."""


def read_samples_file(path: Path) -> tuple[str, list[tuple[dict, str | None]]]:
    """(task, [(doc, raw response)]) from one lm-eval samples file, one entry per doc."""
    match = SAMPLES_NAME.match(path.name)
    if not match:
        raise SamplesError(f"{path}: not an lm-eval samples file name (samples_<task>_<timestamp>.jsonl)")
    seen: dict[Any, tuple[dict, str | None]] = {}
    for lineno, row in iter_jsonl(path):
        doc = row.get("doc")
        if not isinstance(doc, dict) or not {"id", "question", "answer"} <= set(doc):
            raise SamplesError(f"{path}:{lineno}: not a sample of a medxpert multiple-choice or VQA task "
                               "(doc lacks id/question/answer)")  # fmt: skip
        try:
            response = row["resps"][0][0]
        except (KeyError, IndexError, TypeError):
            raise SamplesError(f"{path}:{lineno}: no raw response in 'resps'") from None
        seen.setdefault(row.get("doc_id", doc["id"]), (doc, response))
    return match["task"], list(seen.values())


def _stderr(values: list[float | None]) -> float:
    judged = [v for v in values if v is not None]
    n = len(judged)
    if n < 2:
        return float("nan")
    mean = sum(judged) / n
    return math.sqrt(sum((v - mean) ** 2 for v in judged) / (n - 1) / n)


def judge_samples(paths: list[Path], settings: JudgeSettings, output_path: Path, *, progress: bool = True) -> Path:
    tasks = [read_samples_file(p) for p in paths]
    docs = [doc for _, entries in tasks for doc, _ in entries]
    responses = [resp for _, entries in tasks for _, resp in entries]
    verdicts, report = judge_responses(docs, responses, settings, progress=progress)

    stamp = datetime.now().strftime("%Y-%m-%dT%H-%M-%S.%f")
    folder = output_path / paths[0].parent.name
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    n_samples: dict[str, dict[str, int]] = {}
    disagreements: dict[str, list[str]] = {}
    usage: dict[str, dict[str, int]] = {}
    it = iter(verdicts)
    for task, entries in tasks:
        name = f"{task}_judge"
        records = [sample_record(doc, resp, next(it)) for doc, resp in entries]
        per_metric: dict[str, list] = defaultdict(list)
        with open(folder / f"samples_{name}_{stamp}.jsonl", "w", encoding="utf-8") as fh:
            for i, ((doc, resp), rec) in enumerate(zip(entries, records)):
                metrics = sample_metrics(rec)
                for key, value in metrics.items():
                    per_metric[key].append(value)
                line = {"doc_id": i, "doc": doc, "resps": [[resp]], "filtered_resps": [rec], "filter": FILTER,
                        **{k: v for k, v in metrics.items() if k != "calibration_error"}}  # fmt: skip
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        row: dict[str, Any] = {"alias": name}
        for key, agg in AGGREGATE.items():
            if key not in per_metric:  # calibration/agreement: multiple-choice tasks only
                continue
            row[f"{key},{FILTER}"] = agg(per_metric[key])
            if key in ("judge_acc", "judge_error", "agreement"):
                row[f"{key}_stderr,{FILTER}"] = _stderr(per_metric[key])
        results[name] = row
        n_samples[name] = {"original": len(entries), "effective": len(entries)}
        disagreements[name] = [doc["id"] for (doc, _), rec in zip(entries, records) if rec["agreement"] is False]
        usage[name] = {"prompt_tokens": int(row[f"judge_prompt_tokens,{FILTER}"]),
                       "completion_tokens": int(row[f"judge_completion_tokens,{FILTER}"])}  # fmt: skip

    source = _source_config(paths[0].parent)
    data = _source_provenance(paths[0].parent, [task for task, _ in tasks])
    out = {
        "results": results,
        "n-samples": n_samples,
        "config": {"model": source.get("model"), "model_args": source.get("model_args"), "judged_from": [str(p) for p in paths]},
        "judge": {
            **settings.public(),
            "usage": usage,
            "usage_total": {"prompt_tokens": report.usage_total.prompt_tokens,
                            "completion_tokens": report.usage_total.completion_tokens},
            "requests_sent": report.requests_sent,
            "cached": report.cached,
            "errors": report.errors,
            "retries": report.retries,
            "faults": dict(report.faults),
            "budget_exhausted": report.budget_exhausted,
            "disagreements": disagreements,
        },  # fmt: skip
        "medxpert_data": data,  # where the judged questions came from (from the model run's results file)
        "medxpert_ext_version": __version__,
        "date": stamp,
    }
    results_file = folder / f"results_{stamp}.json"
    # a metric with nothing to average over is null, never a bare NaN (invalid JSON for strict parsers)
    results_file.write_text(json.dumps(_nan_to_none(out), indent=2, ensure_ascii=False, allow_nan=False))
    return results_file


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value


def nothing_judged(results: dict[str, Any]) -> bool:
    """True when not one sample got a verdict (every one is judge_error): the run must not look like a success."""
    total_samples = sum(n["effective"] for n in results["n-samples"].values())
    return total_samples > 0 and results["judge"]["errors"] >= total_samples


def _source_provenance(folder: Path, tasks: list[str]) -> dict[str, Any]:
    """Per judged task, the data provenance the model run recorded (``configs.<task>.metadata.medxpert_data``)."""
    out: dict[str, Any] = {}
    for path in sorted(folder.glob("results_*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            configs = json.loads(path.read_text()).get("configs") or {}
        except (OSError, json.JSONDecodeError):
            continue
        for task in tasks:
            record = ((configs.get(task) or {}).get("metadata") or {}).get("medxpert_data")
            if record is not None and f"{task}_judge" not in out:
                out[f"{task}_judge"] = record
    return out


def _source_config(folder: Path) -> dict[str, Any]:
    """The evaluated model's name/args from the lm-eval results file next to the samples, if there is one."""
    candidates = sorted(folder.glob("results_*.json"), key=lambda p: p.stat().st_mtime)
    for path in reversed(candidates):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if "judge" not in data:
            return data.get("config") or {}
    return {}


def rescue_samples(paths: list[Path], settings: JudgeSettings, output_path: Path, *, progress: bool = True) -> Path:
    """``medxpert judge --mode extract``: the judge rescue over lm-eval samples files of MCQ tasks."""
    from ..metrics.mcq import extract_for_doc
    from .rescue import rescue_letters, rescue_scores

    tasks = [read_samples_file(p) for p in paths]
    for path, (_, entries) in zip(paths, tasks):
        if any(not doc.get("letters") for doc, _ in entries):
            raise SamplesError(f"{path}: --mode extract needs multiple-choice samples (docs with 'letters')")
    docs = [doc for _, entries in tasks for doc, _ in entries]
    responses = [resp for _, entries in tasks for _, resp in entries]
    rules = [extract_for_doc(doc, resp) for doc, resp in zip(docs, responses)]
    result = rescue_letters(docs, responses, rules, settings, progress=progress)

    stamp = datetime.now().strftime("%Y-%m-%dT%H-%M-%S.%f")
    folder = output_path / paths[0].parent.name
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    n_samples: dict[str, dict[str, int]] = {}
    at = 0
    for task, entries in tasks:
        name, rows = f"{task}_rescue", []
        with open(folder / f"samples_{name}_{stamp}.jsonl", "w", encoding="utf-8") as fh:
            for i, (doc, resp) in enumerate(entries):
                rule, letter, verdict = rules[at], result.letters[at], result.verdicts[at]
                metrics = rescue_scores(doc["answer"], rule.letter, letter, result.rescued[at]) | {
                    "extract_fail": float(rule.letter is None), "unread": float(letter is None)}
                record = {"rule_letter": rule.letter, "rule_reason": rule.reason, "letter": letter,
                          "rescued": result.rescued[at], "judge_status": verdict.status if verdict else None,
                          "judge_error": verdict.error if verdict else None}  # fmt: skip
                fh.write(json.dumps({"doc_id": i, "doc": doc, "resps": [[resp]], "filtered_resps": [record],
                                     "filter": "rescue", **metrics}, ensure_ascii=False) + "\n")  # fmt: skip
                rows.append(metrics)
                at += 1
        row: dict[str, Any] = {"alias": name}
        for key in ("acc", "acc_rescued", "rescued", "extract_fail", "unread"):
            values = [r[key] for r in rows]
            row[f"{key},rescue"] = sum(values) / len(values) if values else float("nan")
            row[f"{key}_stderr,rescue"] = _stderr(values)
        results[name] = row
        n_samples[name] = {"original": len(entries), "effective": len(entries)}
    source = _source_config(paths[0].parent)
    out = {
        "results": results,
        "n-samples": n_samples,
        "config": {"model": source.get("model"), "model_args": source.get("model_args"),
                   "judged_from": [str(p) for p in paths]},
        "judge": {**settings.public(), "mode": "extract", "rescue": result.summary()},
        "medxpert_ext_version": __version__,
        "date": stamp,
    }
    results_file = folder / f"results_{stamp}.json"
    results_file.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    return results_file
