"""Paired statistics for comparing two runs on the same samples: bootstrap CIs, exact McNemar, Holm.

Why paired: two checkpoints answer the *same* questions, so most of the per-question variation (easy vs hard
questions) cancels in the per-sample difference. An unpaired test on two accuracies would need a drop several
times larger to notice it, and would flag nothing on the 1,000-question tasks a training team gates on.

Bootstrap. A resample draws n sample indices with replacement and takes the mean per-sample difference. Two
samplers give the same distribution, and the cheaper one is used per task:

- few distinct per-sample rows (binary ``acc``/``extract_fail`` pairs have at most 16): the counts of each
  distinct row in a resample are Multinomial(n, row frequencies), drawn directly — exactly the distribution of
  index resampling, at O(distinct rows) per resample instead of O(n);
- otherwise (ROUGE, VQA recall, hallucination): indices drawn in chunks, ``rng.integers(0, n, (chunk, n))``.

Every task has its own generator seeded from ``(seed, task name)``, so a task's CI does not change when another
task is added to the run. Groups combine the per-task resamples by size (``sum_t n_t * mean_t / sum_t n_t`` per
resample): the stratified bootstrap of the group's size-weighted difference, resampled within tasks.

p-values. Binary metrics: exact McNemar, a two-sided binomial test on the discordant pairs (scipy's
``binomtest``; a group pools its tasks' discordant pairs, which tests exactly the size-weighted difference).
Continuous metrics: the two-sided bootstrap p-value of the centred resamples,
``(1 + #{|d*_b - d| >= |d|}) / (B + 1)`` (smallest 1/(B+1), so B >= 10,000 keeps Holm usable for ~100 tests).

Multiple comparisons: Holm's step-down adjustment (controls the family-wise error rate at ``alpha`` under any
dependence between the tests, which matters because a group and its tasks share samples).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MULTINOMIAL_MAX_ROWS = 64  # above this many distinct per-sample rows, resample indices instead
CHUNK_ELEMENTS = 4_000_000  # indices per chunk of the index sampler (~16 MB of int32)


def task_rng(seed: int, task: str) -> np.random.Generator:
    """The generator of one task's resamples: reproducible, independent of which other tasks are compared."""
    digest = int.from_bytes(hashlib.sha256(task.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, digest])


def bootstrap_means(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``resamples`` bootstrap resamples of the rows of ``values`` (n x m) -> (resamples x m)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    n = values.shape[0]
    if n == 0:
        raise ValueError("cannot bootstrap zero samples")
    distinct, counts = np.unique(values, axis=0, return_counts=True)
    if len(distinct) <= MULTINOMIAL_MAX_ROWS:
        drawn = rng.multinomial(n, counts / n, size=resamples)  # (B x K) counts of each distinct row
        return drawn @ distinct / n
    out = np.empty((resamples, values.shape[1]))
    chunk = max(1, CHUNK_ELEMENTS // n)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n), dtype=np.int32)
        for j in range(values.shape[1]):
            out[start:stop, j] = values[idx, j].mean(axis=1)
    return out


def percentile_ci(resampled: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2
    low, high = np.quantile(resampled, [tail, 1 - tail])
    return float(low), float(high)


def bootstrap_p_value(resampled: np.ndarray, observed: float) -> float:
    """Two-sided p-value of "no difference": how often centred resamples are at least as far from 0."""
    extreme = np.count_nonzero(np.abs(resampled - observed) >= abs(observed) - 1e-12)
    return float((1 + extreme) / (len(resampled) + 1))


def is_binary(*arrays: np.ndarray) -> bool:
    return all(np.isin(a, (0.0, 1.0)).all() for a in arrays)


def discordant(base: np.ndarray, cand: np.ndarray) -> tuple[int, int]:
    """(right in base only, right in cand only) of two 0/1 vectors."""
    b = int(np.count_nonzero((base == 1) & (cand == 0)))
    c = int(np.count_nonzero((base == 0) & (cand == 1)))
    return b, c


def mcnemar_exact(b: int, c: int) -> float:
    """Exact McNemar p-value (two-sided binomial test of b successes in b + c at 1/2); 1.0 with no discordance."""
    if b + c == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (same order as given)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted.tolist()


@dataclass(frozen=True)
class PairedResult:
    """One metric compared on paired samples. ``diff`` = cand - base in the metric's own units."""

    n: int
    base: float
    cand: float
    diff: float
    ci: tuple[float, float]
    p_value: float
    test: str  # "mcnemar-exact" | "bootstrap"
    discordant: tuple[int, int] | None  # (base right only, cand right only) for binary metrics


@dataclass(frozen=True)
class TaskDraws:
    """What a group needs from one task: its size, paired sums and the per-resample mean differences."""

    n: int
    base_sum: float
    cand_sum: float
    resampled: np.ndarray  # (B,) mean differences
    discordant: tuple[int, int] | None


def compare_paired(
    base: Mapping[str, np.ndarray], cand: Mapping[str, np.ndarray], *, task: str, resamples: int, seed: int,
    level: float,
) -> tuple[dict[str, PairedResult], dict[str, TaskDraws]]:  # fmt: skip
    """Compare every metric of one task (aligned per-sample arrays, no NaN) with one set of resamples."""
    names = list(base)
    diffs = np.stack([np.asarray(cand[k], float) - np.asarray(base[k], float) for k in names], axis=1)
    resampled = bootstrap_means(diffs, resamples, task_rng(seed, task))
    results, draws = {}, {}
    for j, name in enumerate(names):
        b, c = np.asarray(base[name], float), np.asarray(cand[name], float)
        diff = float(c.mean() - b.mean())
        pair = discordant(b, c) if is_binary(b, c) else None
        p = mcnemar_exact(*pair) if pair else bootstrap_p_value(resampled[:, j], diff)
        results[name] = PairedResult(len(b), float(b.mean()), float(c.mean()), diff,
                                     percentile_ci(resampled[:, j], level), p,
                                     "mcnemar-exact" if pair else "bootstrap", pair)  # fmt: skip
        draws[name] = TaskDraws(len(b), float(b.sum()), float(c.sum()), resampled[:, j], pair)
    return results, draws


def combine_group(parts: Sequence[TaskDraws], level: float) -> PairedResult:
    """Size-weighted difference over a group's tasks, from their within-task resamples."""
    n = sum(p.n for p in parts)
    resampled = sum(p.n * p.resampled for p in parts) / n
    base = sum(p.base_sum for p in parts) / n
    cand = sum(p.cand_sum for p in parts) / n
    diff = cand - base
    if all(p.discordant is not None for p in parts):
        pair = (sum(p.discordant[0] for p in parts), sum(p.discordant[1] for p in parts))  # type: ignore[index]
        p_value, test = mcnemar_exact(*pair), "mcnemar-exact"
    else:
        pair, p_value, test = None, bootstrap_p_value(resampled, diff), "bootstrap"
    return PairedResult(n, base, cand, diff, percentile_ci(resampled, level), p_value, test, pair)
