"""Metrics over judge verdicts.

A ``judge_error`` verdict (request failed, reply unreadable, budget skip) is never counted as incorrect: it is
excluded from the judged metrics and reported separately as the judge error rate, so a flaky judge lowers the
sample size, not the score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from medxpert_ext.judge.types import Verdict

_LABELS = ("supported", "contradicted", "not_mentioned")


def judged(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """The verdicts the judge actually reached (status correct or incorrect), in input order."""
    return [v for v in verdicts if v.status in ("correct", "incorrect")]


def judge_accuracy(verdicts: Sequence[Verdict]) -> float | None:
    """correct / judged (judge errors excluded); None when nothing was judged (not 0: there is no score)."""
    done = judged(verdicts)
    if not done:
        return None
    return sum(v.status == "correct" for v in done) / len(done)


def judge_error_rate(verdicts: Sequence[Verdict]) -> float:
    """judge_error / all verdicts; 0.0 for no verdicts (nothing failed)."""
    if not verdicts:
        return 0.0
    return sum(v.status == "judge_error" for v in verdicts) / len(verdicts)


def calibration_error(confidence: Sequence[float], correct: Sequence[bool], beta: int = 100) -> float | None:
    """RMS calibration error as Humanity's Last Exam computes it, as a fraction (0-1; HLE prints 100x).

    Source: ``calib_err(confidence, correct, p='2', beta=100)`` in ``hle_eval/run_judge_results.py`` (itself
    from hendrycks/outlier-exposure ``calibration_tools.py``), called with ``confidence / 100``. Definition:

    1. c_i = confidence_i / 100 (confidence is on the 0-100 scale, as the judge reports it); sort the samples
       by c (ascending).
    2. Cut the sorted list into K = n // beta bins of beta consecutive samples; the last bin also absorbs the
       n - K*beta remaining samples.
    3. error = sqrt( sum over bins b of |b|/n * (mean c in b - mean correct in b)^2 ).

    HLE's loop is ``for i in range(len(bins) - 1)``: it visits every bin EXCEPT THE LAST (the one holding the
    highest confidences plus the remainder), while still dividing by the full n. This function reproduces that
    exactly, so numbers are comparable with HLE's published ones (the sum then runs over bins 0..K-2).

    Deviations, both only where HLE gives no usable number:
    - n < 2*beta: HLE raises IndexError for n < beta and returns 0.0 for beta <= n < 2*beta (no bin visited,
      which would read as perfect calibration). Here both return None: too few samples to measure.
    - Ties in confidence: HLE uses ``np.argsort`` (quicksort, not stable), so which tied samples land on each
      side of a bin boundary is numpy's choice; here the sort is stable (ties keep input order), which makes
      the result deterministic. Results differ from HLE only when a tie group straddles a bin boundary.
    HLE also rounds (``100 * round(err, 2)``); rounding is left to the caller.
    Raises ValueError for unequal lengths, beta < 1, or non-finite confidences (HLE's nanmean would skip NaN
    inside a bin; callers must drop verdicts without a confidence instead).
    """
    if len(confidence) != len(correct):
        raise ValueError(f"{len(confidence)} confidences but {len(correct)} correctness values")
    if beta < 1:
        raise ValueError(f"beta must be >= 1, got {beta}")
    conf = [float(c) / 100.0 for c in confidence]
    if not all(math.isfinite(c) for c in conf):
        raise ValueError("confidence values must be finite numbers")
    n = len(conf)
    if n < 2 * beta:
        return None
    order = sorted(range(n), key=lambda i: conf[i])  # stable
    c_sorted = [conf[i] for i in order]
    a_sorted = [1.0 if correct[i] else 0.0 for i in order]
    total = 0.0
    for k in range(n // beta - 1):  # HLE: all bins but the last (which would span (K-1)*beta .. n)
        lo, hi = k * beta, (k + 1) * beta
        diff = sum(c_sorted[lo:hi]) / beta - sum(a_sorted[lo:hi]) / beta
        total += beta / n * diff * diff
    return math.sqrt(total)


def agreement(
    ids: Sequence[str], judge_correct: Sequence[bool | None], rule_correct: Sequence[bool]
) -> tuple[float | None, list[str]]:
    """Agreement between the judge and the rule-based extractor, over the samples the judge judged.

    ``judge_correct`` is None where the judge failed (those samples are skipped). Returns the share of judged
    samples where both say the same, or None when none was judged, and the ids where they disagree (input
    order): the samples worth reading by hand, since one of the two graders is wrong there.
    """
    if not len(ids) == len(judge_correct) == len(rule_correct):
        raise ValueError("ids, judge_correct and rule_correct must have the same length")
    pairs = [(i, j, bool(r)) for i, j, r in zip(ids, judge_correct, rule_correct) if j is not None]
    if not pairs:
        return None, []
    disagree = [i for i, j, r in pairs if bool(j) != r]
    return (len(pairs) - len(disagree)) / len(pairs), disagree


def statement_scores(labels: Sequence[str], n_must_have: int) -> dict[str, float]:
    """MedLFQA/OLAPH per-sample scores from statement labels (must-have statements first, then nice-to-have).

    hallucination = contradicted / all statements (lower is better);
    comprehensiveness = supported among the first n_must_have / n_must_have (higher is better).
    A score with a zero denominator is left out of the dict (undefined, not 0), so averages over samples skip
    it. Raises ValueError for an unknown label or n_must_have outside 0..len(labels).
    """
    unknown = sorted({label for label in labels if label not in _LABELS})
    if unknown:
        raise ValueError(f"unknown statement labels {unknown}")
    if not 0 <= n_must_have <= len(labels):
        raise ValueError(f"n_must_have={n_must_have} is not in 0..{len(labels)}")
    scores: dict[str, float] = {}
    if labels:
        scores["hallucination"] = sum(label == "contradicted" for label in labels) / len(labels)
    if n_must_have:
        scores["comprehensiveness"] = sum(label == "supported" for label in labels[:n_must_have]) / n_must_have
    return scores
