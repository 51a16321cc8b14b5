"""OpenCompass 0.5.4 work dirs -> one RunRecord per model.

Layout (opencompass/cli/main.py, tasks/openicl_eval.py, summarizers/default.py)::

    <work_dir>/<YYYYmmdd_HHMMSS>/configs/<YYYYmmdd_HHMMSS>_<pid>.py     dumped config (models=[dict(abbr=..)])
                                 predictions/<model_abbr>/<dataset_abbr>.json
                                 results/<model_abbr>/<dataset_abbr>.json   (the pack's evaluators: see below)
                                 summary/summary_<YYYYmmdd_HHMMSS>.{csv,txt,md}

The pack's evaluators write ``{"acc": 0-100, "extract_fail": 0-100, ..., "details": [{"id", "pred", "reason",
"correct", "scores": {...0/1 per sample...}, "question_type", ...}], "medxpert": {"harness": "opencompass",
"scale": 100, "n", "pack_version", "task"}}``; dataset abbrs are lm-eval's task names, so scores land on the
same canonical tasks. Groups (medxpert, medxpert_text, ...) exist only in the summary CSV (2 decimals).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from .ingest_lmeval import normalized_sample
from .records import (
    IngestError,
    RunRecord,
    ScoreRecord,
    file_hash,
    model_and_step,
    redact,
    stable_hash,
    to_store_scale,
    unit_of,
)

# OpenCompass' own names for a primary accuracy / a summary group's average -> the canonical metric
METRIC_ALIASES = {"accuracy": "acc", "naive_average": "acc", "weighted_average": "acc", "average": "acc"}
_NOT_METRICS = {"details", "medxpert", "type"}


def is_work_dir(path: Path) -> bool:
    return (path / "configs").is_dir() and any((path / d).is_dir() for d in ("results", "summary", "predictions"))


def read_work_dir(path: Path) -> tuple[list[RunRecord], list[str]]:
    """(one record per model, notes such as "no details") for one timestamped work dir."""
    config_file, models_cfg = _dumped_config(path)
    config_hash = file_hash(config_file.read_bytes()) if config_file else None
    summary = _summary(path)
    abbrs = sorted({p.name for p in (path / "results").iterdir() if p.is_dir()} if (path / "results").is_dir() else set())
    abbrs += [a for a in summary if a not in abbrs]
    if not abbrs:
        raise IngestError(f"{path}: OpenCompass work dir with no results/<model>/ and no summary CSV")
    evaluated_at = _stamp(path.name)
    records, notes = [], []
    for abbr in abbrs:
        cfg = models_cfg.get(abbr, {})
        name = cfg.get("path") or cfg.get("model") or abbr
        model, step = model_and_step(str(name))
        rec = RunRecord(
            run_key="", harness="opencompass", harness_version=None, model=model, checkpoint=str(name), step=step,
            source=str(path.resolve()), model_args=redact({k: v for k, v in cfg.items() if k != "type"}) or None,
            gen_settings=redact({k: cfg[k] for k in ("max_out_len", "generation_kwargs", "max_seq_len", "temperature",
                                                     "batch_size") if k in cfg}) or None,  # fmt: skip
            config_hash=config_hash, evaluated_at=evaluated_at,
        )
        hashes: dict[str, str] = {}
        tasks_seen: set[str] = set()
        results_dir = path / "results" / abbr
        for rfile in sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []:
            raw = _read(rfile)
            hashes[rfile.name] = file_hash(raw)
            task, has_details = _read_results(rfile, raw, rec)
            tasks_seen.add(task)
            tasks_seen.add(rfile.stem)
            if not has_details:
                notes.append(f"{rfile}: no per-sample details (run OpenCompass with --dump-eval-details): scores only")
        predicted = {p.stem.rsplit("_", 1)[0] if p.stem.rsplit("_", 1)[-1].isdigit() else p.stem
                     for p in (path / "predictions" / abbr).glob("*.json")} if (path / "predictions" / abbr).is_dir() else set()  # fmt: skip
        for dataset, metric, value in summary.get(abbr, []):
            if dataset in tasks_seen:
                continue  # the results file has the unrounded number
            canonical = METRIC_ALIASES.get(metric, metric)
            rec.scores.append(ScoreRecord(dataset, canonical, to_store_scale(canonical, value, 100), None, None,
                                          unit_of(canonical), dataset not in predicted))  # fmt: skip
            hashes[f"summary:{dataset}:{metric}"] = repr(value)
        if not rec.scores:
            notes.append(f"{path}: model {abbr}: no scores")
            continue
        rec.run_key = stable_hash(["opencompass", path.name, abbr, hashes])
        records.append(rec)
    return records, notes


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _read_results(path: Path, raw: bytes, rec: RunRecord) -> tuple[str, bool]:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IngestError(f"{path}: not valid JSON (truncated or corrupt?): {exc}") from None
    if not isinstance(data, dict):
        raise IngestError(f"{path}: not an OpenCompass results file (expected an object of metrics)")
    if "error" in data and len(data) == 1:
        raise IngestError(f"{path}: OpenCompass recorded an evaluation error: {str(data['error'])[:200]}")
    meta = _one(data.get("medxpert"))
    meta = meta if isinstance(meta, dict) else {}
    task = str(meta.get("task") or path.stem)
    scale = float(meta.get("scale") or 100)
    rec.pack_version = rec.pack_version or meta.get("pack_version")
    rec.harness_version = rec.harness_version or meta.get("harness_version")
    details = data.get("details")
    if isinstance(details, dict):  # OpenCompass' stock evaluators key details by index
        details = list(details.values())
    details = details if isinstance(details, list) else []
    per_metric: dict[str, list[float]] = {}
    for i, d in enumerate(details):
        if not isinstance(d, dict):
            raise IngestError(f"{path}: details[{i}] is not an object")
        d = {k: _one(v) for k, v in d.items()}  # OpenCompass 0.5.4 wraps each value in a list (one per rollout)
        if d.get("reason") == "ok":
            d["reason"] = None
        scores = d.get("scores") if isinstance(d.get("scores"), dict) else {}
        for k, v in scores.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                per_metric.setdefault(METRIC_ALIASES.get(k, k), []).append(float(v))
        values = {METRIC_ALIASES.get(k, k): v for k, v in scores.items()}
        if "acc" not in values and isinstance(d.get("correct"), bool):
            values["acc"] = float(d["correct"])
        rec.samples.append(normalized_sample(task, str(d.get("id", i)), None, values, d, pred=d.get("pred"),
                                             reason=d.get("reason")))  # fmt: skip
    n = meta.get("n") if isinstance(meta.get("n"), int) else (len(details) or None)
    found = False
    for key, value in data.items():
        if key in _NOT_METRICS or isinstance(value, (dict, list, str)) or value is None:
            continue
        metric = METRIC_ALIASES.get(key, key)
        if metric != key and metric in data:
            continue
        found = True
        stderr = _stderr(per_metric.get(metric), 1.0)
        rec.scores.append(ScoreRecord(task, metric, to_store_scale(metric, value, scale),
                                      to_store_scale(metric, stderr, 1) if stderr is not None else None, n, unit_of(metric)))  # fmt: skip
    if not found:
        raise IngestError(f"{path}: not an OpenCompass results file (no numeric metric)")
    return task, bool(details)


def _one(value: Any) -> Any:
    """The first rollout's value: OpenCompass' eval task stores per-sample fields as lists, one per rollout."""
    return value[0] if isinstance(value, list) and value else value


def _stderr(values: list[float] | None, scale: float) -> float | None:
    """Standard error of the mean, as lm-eval computes it (sample stdev / sqrt(n))."""
    if not values or len(values) < 2:
        return None
    n = len(values)
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n) / scale


def _stamp(name: str) -> datetime | None:
    try:
        return datetime.strptime(name, "%Y%m%d_%H%M%S")
    except ValueError:
        return None


def _summary(path: Path) -> dict[str, list[tuple[str, str, float]]]:
    """model abbr -> [(dataset, metric, value)] from the newest summary CSV."""
    files = sorted((path / "summary").glob("summary_*.csv")) if (path / "summary").is_dir() else []
    if not files:
        return {}
    text = _read(files[-1]).decode("utf-8", errors="replace")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0][:4] != ["dataset", "version", "metric", "mode"]:
        raise IngestError(f"{files[-1]}: not an OpenCompass summary CSV (header is not dataset,version,metric,mode,...)")
    out: dict[str, list[tuple[str, str, float]]] = {abbr: [] for abbr in rows[0][4:]}
    for row in rows[1:]:
        for abbr, cell in zip(rows[0][4:], row[4:]):
            try:
                out[abbr].append((row[0], row[2], float(cell)))
            except ValueError:
                continue  # "-": not evaluated
    return out


def _dumped_config(path: Path) -> tuple[Path | None, dict[str, dict]]:
    """The dumped config file and its models by abbr, read with ``ast`` (never executed)."""
    files = sorted((path / "configs").glob("*.py"))
    if not files:
        return None, {}
    try:
        tree = ast.parse(_read(files[-1]).decode("utf-8", errors="replace"))
    except SyntaxError as exc:
        raise IngestError(f"{files[-1]}: dumped OpenCompass config is not valid Python: {exc.msg} (line {exc.lineno})") from None
    models: dict[str, dict] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "models" for t in node.targets):
            value = _literal(node.value)
            for m in value if isinstance(value, list) else []:
                if isinstance(m, dict) and m.get("abbr"):
                    models[str(m["abbr"])] = m
    return files[-1], models


def _literal(node: ast.AST) -> Any:
    """Constants, lists, dicts and dict(...) calls as values; anything else (types, calls) as its source text."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_literal(k) if k is not None else "**": _literal(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return {kw.arg: _literal(kw.value) for kw in node.keywords if kw.arg}
    return ast.unparse(node)
