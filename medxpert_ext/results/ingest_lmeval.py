"""lm-eval 0.4.13 outputs -> RunRecord: ``results_<date_id>.json`` plus its ``samples_<task>_<date_id>.jsonl``.

Layout (lm_eval/loggers/evaluation_tracker.py): both files sit in ``<output_path>/<model_name_sanitized>/`` and
share ``date_id = datetime.now().isoformat().replace(":", "-")``; with ``--output_path x.json`` the results file is
``x_<date_id>.json`` next to the samples. ``medxpert judge`` writes the same shape (tasks ``<task>_judge``, metric
keys ``judge_acc,judge``, a ``judge`` block) and is read by the same code.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from ..data import normalize_medical_task
from .records import (
    CORRECT_KEYS,
    FAIL_KEYS,
    IngestError,
    RunRecord,
    ScoreRecord,
    file_hash,
    model_and_step,
    parse_model_args,
    redact,
    stable_hash,
    to_store_scale,
    unit_of,
)

DATE_ID = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
RESULTS_NAME = re.compile(rf"^(?P<stem>.+)_(?P<date>{DATE_ID})\.json$")
SAMPLES_NAME = re.compile(rf"^samples_(?P<task>.+)_(?P<date>{DATE_ID})\.jsonl$")
# keys of a samples line that are not per-sample metric values
_NOT_METRICS = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics",
                "doc_hash", "prompt_hash", "target_hash"}  # fmt: skip
PRED_MAX = 256


def is_results_file(path: Path) -> bool:
    return RESULTS_NAME.match(path.name) is not None


def samples_files(results_file: Path) -> dict[str, Path]:
    """task -> samples file of the same lm-eval invocation (same folder, same date_id)."""
    m = RESULTS_NAME.match(results_file.name)
    if not m:
        return {}
    out = {}
    for p in results_file.parent.glob(f"samples_*_{m['date']}.jsonl"):
        sm = SAMPLES_NAME.match(p.name)
        if sm and sm["date"] == m["date"]:
            out[sm["task"]] = p
    return out


def run_key(path: Path, raw: bytes) -> str:
    """Content hash of the results file plus its date_id: a copy elsewhere is the same run, a re-run is not."""
    m = RESULTS_NAME.match(path.name)
    return file_hash(b"lm-eval\0" + (m["date"] if m else "").encode() + b"\0" + raw)


def read_results(path: Path, *, with_samples: bool = True, raw: bytes | None = None) -> RunRecord:
    raw = _read_bytes(path) if raw is None else raw
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IngestError(f"{path}: not valid JSON (truncated or corrupt?): {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise IngestError(f"{path}: not an lm-eval results file (no 'results' object)")
    m = RESULTS_NAME.match(path.name)
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    model_args = parse_model_args(config.get("model_args"))
    name = data.get("model_name") or _model_from_args(model_args) or config.get("model")
    model, step = model_and_step(name)
    judge = data.get("judge") if isinstance(data.get("judge"), dict) else None
    record = RunRecord(
        run_key=run_key(path, raw),
        harness="lm-eval",
        harness_version=data.get("lm_eval_version"),
        model=model,
        checkpoint=str(name) if name else None,
        step=step,
        source=str(path.resolve()),
        model_args=redact(model_args) if model_args else None,
        gen_settings=_gen_settings(data, config),
        pack_version=data.get("medxpert_ext_version"),
        git_hash=data.get("git_hash"),
        config_hash=_config_hash(data, config),
        evaluated_at=_date(m["date"]) if m else None,
        extra={"judge": redact({k: v for k, v in judge.items() if k not in ("disagreements", "usage")})} if judge else None,
    )
    record.scores = _scores(path, data)
    if with_samples:
        for task, sfile in sorted(samples_files(path).items()):
            record.samples.extend(read_samples(sfile, task))
    return record


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _model_from_args(args: dict | None) -> str | None:
    for key in ("pretrained", "model", "path", "model_name"):
        if args and args.get(key):
            return str(args[key])
    return None


def _date(date_id: str) -> datetime | None:
    try:
        return datetime.strptime(date_id, "%Y-%m-%dT%H-%M-%S.%f" if "." in date_id else "%Y-%m-%dT%H-%M-%S")
    except ValueError:
        return None


def _gen_settings(data: dict, config: dict) -> dict | None:
    per_task = {}
    for task, cfg in (data.get("configs") or {}).items():
        if isinstance(cfg, dict) and cfg.get("generation_kwargs") is not None:
            per_task[task] = cfg["generation_kwargs"]
    distinct = {json.dumps(v, sort_keys=True, default=str) for v in per_task.values()}
    out = {
        "gen_kwargs": config.get("gen_kwargs"),
        "task_generation_kwargs": next(iter(per_task.values())) if len(distinct) == 1 else per_task or None,
        "limit": config.get("limit"),
        "num_fewshot": data.get("n-shot"),
        "chat_template_sha": data.get("chat_template_sha"),
        "system_instruction": data.get("system_instruction"),
        "random_seed": config.get("random_seed"),
    }
    out = {k: v for k, v in out.items() if v not in (None, {}, [])}
    return redact(out) or None


def _config_hash(data: dict, config: dict) -> str:
    """What decides the numbers, without the endpoint/keys: task configs (minus metadata, which repeats the
    model args), n-shot, gen kwargs, limit, chat template and the dataset hashes."""
    tasks = {t: {k: v for k, v in c.items() if k != "metadata"} for t, c in (data.get("configs") or {}).items()
             if isinstance(c, dict)}  # fmt: skip
    keep = {k: config.get(k) for k in ("model", "gen_kwargs", "limit", "num_fewshot")}
    return stable_hash([tasks, keep, data.get("n-shot"), data.get("chat_template_sha"), data.get("task_hashes")])


def _leaf_count(task: str, data: dict, seen: set[str] | None = None) -> int | None:
    groups = data.get("group_subtasks") or {}
    n_samples = data.get("n-samples") or {}
    if task not in groups:
        n = (n_samples.get(task) or {}).get("effective")
        return int(n) if isinstance(n, (int, float)) else None
    seen = seen or set()
    total = 0
    for sub in groups[task]:
        if sub in seen:
            continue
        seen.add(sub)
        n = _leaf_count(sub, data, seen)
        if n is None:
            return None
        total += n
    return total


def _scores(path: Path, data: dict) -> list[ScoreRecord]:
    groups = set((data.get("group_subtasks") or {}).keys())
    out = []
    for task, row in data["results"].items():
        if not isinstance(row, dict):
            raise IngestError(f"{path}: results['{task}'] is not an object")
        n = _leaf_count(task, data)
        seen: set[str] = set()
        for key, value in row.items():
            if "," not in key:
                continue
            metric, flt = key.split(",", 1)
            if metric.endswith("_stderr"):
                continue
            name = metric if metric not in seen else key
            seen.add(metric)
            stderr = row.get(f"{metric}_stderr,{flt}")
            out.append(ScoreRecord(task, name, to_store_scale(metric, value, 1), to_store_scale(metric, stderr, 1),
                                   n, unit_of(metric), task in groups))  # fmt: skip
    return out


def read_samples(path: Path, task: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                raise IngestError(f"{path}:{lineno}: not valid JSON (truncated or corrupt?)") from None
            if not isinstance(obj, dict) or "doc" not in obj and "doc_id" not in obj:
                raise IngestError(f"{path}:{lineno}: not an lm-eval sample (no 'doc'/'doc_id')")
            row = sample_row(task, obj)
            if row["sample_id"] in seen:  # further filters / repeats of the same doc: keep the first
                continue
            seen.add(row["sample_id"])
            rows.append(row)
    return rows


def sample_row(task: str, obj: dict) -> dict[str, Any]:
    doc = obj.get("doc")
    if not isinstance(doc, dict):
        doc = {}
    names = obj.get("metrics")
    if not isinstance(names, list):
        names = [k for k, v in obj.items() if k not in _NOT_METRICS and (v is None or isinstance(v, (int, float)))]
    values = {k: obj[k] for k in names if k in obj}
    sid = doc.get("id")
    return normalized_sample(task, str(obj.get("doc_id") if sid is None else sid), _first(obj.get("filtered_resps")),
                             values, doc)  # fmt: skip


def _first(value: Any) -> Any:
    while isinstance(value, list) and value:
        value = value[0]
    return None if isinstance(value, list) else value


_MEDICAL_TASK_CACHE: dict[str, str | None] = {}


def normalized_sample(task: str, sample_id: str, resp: Any, values: dict[str, Any], doc: dict,
                      *, pred: Any = ..., reason: str | None = None, correct: Any = None) -> dict[str, Any]:  # fmt: skip
    """One sample table row from per-sample values on the 0-1 scale (lm-eval's, and the OpenCompass contract's).

    Runs once per stored sample (100,000s per sweep), hence the plain loops."""
    if pred is ...:
        pred, reason = _pred(resp)
    correct_key = fail_key = None
    for k in CORRECT_KEYS:
        if k in values:
            correct_key = k
            break
    for k in FAIL_KEYS:
        if k in values:
            fail_key = k
            break
    if correct is None and correct_key is not None:
        v = values[correct_key]
        correct = v if isinstance(v, (int, float)) else None
    fail = values[fail_key] if fail_key is not None else None
    rest = None
    if len(values) > (correct_key is not None) + (fail_key is not None):
        rest = {k: to_store_scale(k, v, 1) for k, v in values.items() if k != correct_key and k != fail_key
                and isinstance(v, (int, float)) and not isinstance(v, bool)} or None  # fmt: skip
    mt = doc.get("medical_task")
    if isinstance(mt, str):
        if mt not in _MEDICAL_TASK_CACHE:
            _MEDICAL_TASK_CACHE[mt] = _axis(normalize_medical_task(mt))
        mt = _MEDICAL_TASK_CACHE[mt]
    else:
        mt = None
    if pred is not None:
        pred = str(pred)
        if len(pred) > PRED_MAX:
            pred = pred[: PRED_MAX - 1] + "…"
    return {
        "task": task,
        "sample_id": sample_id[:128],
        "pred": pred,
        "correct": None if correct is None else int(bool(correct)),
        "fail": int(bool(fail)) if isinstance(fail, (int, float)) else 0,
        "reason": None if reason is None else str(reason)[:128],
        "question_type": _axis(doc.get("question_type")),
        "medical_task": mt,
        "body_system": _axis(doc.get("body_system")),
        "answer_type": _axis(doc.get("answer_type")),
        "values": rest,
    }


def _pred(resp: Any) -> tuple[str | None, str | None]:
    if isinstance(resp, dict):  # a judged sample: the judge's record
        return resp.get("judge_extracted") or resp.get("rule_extracted"), resp.get("verdict")
    if isinstance(resp, str) and resp.startswith("[no answer"):
        return None, resp.strip("[]").removeprefix("no answer").lstrip(": ") or "no answer"
    return (None, None) if resp is None else (str(resp), None)


def _axis(value: Any) -> str | None:
    return value[:64] if value and isinstance(value, str) else None
