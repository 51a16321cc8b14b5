"""What an ingester hands the store: harness-free records of one run, its scores and its samples.

Also the normalizations both harnesses share (checkpoint step from a path, secrets out of model args, the
percent scale), so lm-eval and OpenCompass outputs of the same model land as the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Metrics that are counts, and metrics our tasks already report on 0-100 (MedLFQA's OLAPH statements): one
# definition shared with the harness adapters.
from ..metrics.aggregate import COUNT_METRICS, NATIVE_PERCENT
from .schema import COUNT, PERCENT

# Per-sample keys that mean "answered correctly" / "no answer or no verdict", in order of preference.
CORRECT_KEYS = ("acc", "closed_acc", "judge_acc")
FAIL_KEYS = ("extract_fail", "closed_unreadable", "judge_error", "no_answer")


class IngestError(Exception):
    """One input cannot be ingested; the message starts with the path and says what is wrong."""


@dataclass
class ScoreRecord:
    task: str
    metric: str
    value: float | None
    stderr: float | None = None
    n: int | None = None
    unit: str = PERCENT
    is_group: bool = False


@dataclass
class RunRecord:
    run_key: str
    harness: str
    harness_version: str | None
    model: str
    checkpoint: str | None
    step: int | None
    source: str
    model_args: dict | None = None
    gen_settings: dict | None = None
    pack_version: str | None = None
    git_hash: str | None = None
    config_hash: str | None = None
    evaluated_at: datetime | None = None
    extra: dict | None = None
    scores: list[ScoreRecord] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)  # rows of the sample table, without run_id


def unit_of(metric: str) -> str:
    return COUNT if metric in COUNT_METRICS else PERCENT


def to_store_scale(metric: str, value: Any, harness_scale: float) -> float | None:
    """A harness value on the store's scale: rates in percent, counts as counts; N/A and NaN -> None.

    harness_scale is what the harness prints a full score as: 1 for lm-eval (except NATIVE_PERCENT), 100 for
    OpenCompass.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if metric in COUNT_METRICS:
        return float(value)
    if harness_scale == 1 and metric in NATIVE_PERCENT:
        return float(value)
    return float(value) * (100.0 / harness_scale)


_STEP_DIR = re.compile(r"^(?:global_step|checkpoint|step|ckpt|iter)[-_]?(\d+)$", re.I)
_STEP_SUFFIX = re.compile(r"^(?P<model>.+?)[-_.](?:global_step|checkpoint|step|ckpt|iter)[-_]?(?P<step>\d+)$", re.I)


def model_and_step(name: str | None) -> tuple[str, int | None]:
    """(display model name, checkpoint step) from a model path or id.

    ``/ckpt/med-llama/checkpoint-1200`` -> ("med-llama", 1200); ``/ckpt/run1/global_step1200/hf`` -> ("run1",
    1200); ``org/med-llama-step-300`` -> ("org/med-llama", 300); ``meta-llama/Llama-3-8B`` stays as it is;
    a local path without a step -> its last folder.
    """
    if not name:
        return "unknown", None
    parts = [p for p in str(name).rstrip("/").split("/") if p]
    for i in range(len(parts) - 1, -1, -1):
        m = _STEP_DIR.match(parts[i])
        if m:
            return (parts[i - 1] if i > 0 else parts[i]), int(m.group(1))
    m = _STEP_SUFFIX.match(parts[-1]) if parts else None
    if m:
        prefix = "/".join(parts[:-1])
        model = m["model"] if str(name).startswith(("/", ".", "~")) or not prefix else f"{prefix}/{m['model']}"
        return model, int(m["step"])
    if str(name).startswith(("/", ".", "~")):
        return parts[-1] if parts else str(name), None
    return str(name), None


_SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|passw(or)?d|auth|credential|private[_-]?key|^keys?$)", re.I)
_SECRET_VALUE = re.compile(r"^(sk-|hf_|ghp_|xox[bp]-|Bearer\s)", re.I)
REDACTED = "***"


def redact(value: Any, key: str = "") -> Any:
    """A copy with secrets replaced: values of secret-named keys, key-looking strings, URL passwords and
    secret query parameters. Counts like ``max_tokens`` are kept."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, key) for v in value]
    secret_key = bool(_SECRET_KEY.search(key)) and not re.search(r"(max|num|_len|tokens?$|tokenizer)", key, re.I)
    if secret_key and value not in (None, "", False):
        return REDACTED
    if isinstance(value, str):
        if _SECRET_VALUE.match(value.strip()):
            return REDACTED
        if "://" in value:
            return redact_url(value)
    return value


def redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = [(k, REDACTED if _SECRET_KEY.search(k) else v) for k, v in parse_qsl(query, keep_blank_values=True)]
        query = urlencode(pairs, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def parse_model_args(raw: Any) -> dict | None:
    """lm-eval keeps model_args as given: a dict, or a "k=v,k=v" string."""
    if raw is None or isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        out: dict[str, Any] = {}
        for part in filter(None, raw.split(",")):
            k, _, v = part.partition("=")
            out[k.strip()] = v.strip()
        return out
    return {"value": str(raw)}


def stable_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
