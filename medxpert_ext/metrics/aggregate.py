"""Per-sample values -> one number, the same way in every harness.

A sample the judge could not score carries ``None``: it is left out of the mean and counted by its own
``judge_error`` metric, never scored as wrong behind the user's back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def judged_mean(values: Sequence[float | None]) -> float:
    """Mean over judged samples only: judge errors are reported by ``judge_error``, never scored as wrong."""
    return mean([v for v in values if v is not None])


def nan_mean(values: Sequence[float | None]) -> float:
    """Mean over defined values (a metric undefined for a sample, e.g. ROUGE of an empty reference, is NaN)."""
    return mean([v for v in values if v is not None and not math.isnan(v)])


def calibration(values: Sequence[tuple[float, bool] | None]) -> float:
    """HLE's calibration error over (confidence, correct) pairs of judged samples."""
    from ..judge.metrics import calibration_error

    pairs = [v for v in values if v is not None]
    err = calibration_error([c for c, _ in pairs], [bool(k) for _, k in pairs]) if pairs else None
    return float("nan") if err is None else err


def total(values: Sequence[float]) -> float:
    return float(sum(values))


# How each metric is aggregated wherever it is reported (lm-eval YAMLs name the same functions); default: mean.
AGGREGATION = {
    "judge_acc": judged_mean,
    "agreement": judged_mean,
    "hallucination_judge": judged_mean,
    "comprehensiveness_judge": judged_mean,
    "calibration_error": calibration,
    "judge_prompt_tokens": total,
    "judge_completion_tokens": total,
}
# Metrics that are not shares of samples: OLAPH's factuality is already 0-100 and token counts are counts. Every
# other metric is a 0-1 share, which lm-eval reports as is and OpenCompass (like the papers) as a percentage.
NATIVE_PERCENT = frozenset({"hallucination", "comprehensiveness", "hallucination_judge", "comprehensiveness_judge"})
COUNT_METRICS = frozenset({"judge_prompt_tokens", "judge_completion_tokens"})
NOT_A_SHARE = NATIVE_PERCENT | COUNT_METRICS


def aggregate(metric: str, values: Sequence) -> float:
    return AGGREGATION.get(metric, mean)(values)


def as_percent(metric: str, value: float) -> float:
    """A metric value on the 0-100 scale OpenCompass and the papers print."""
    return value if metric in NOT_A_SHARE else 100.0 * value
