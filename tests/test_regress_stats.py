"""The gate's statistics against independent computations: statsmodels' exact McNemar and Holm, and plain-loop
bootstraps drawing from the same seeded generator."""

from __future__ import annotations

import numpy as np
import pytest

from medxpert_ext.regress import stats
from medxpert_ext.regress.stats import bootstrap_means, combine_group, compare_paired, holm, mcnemar_exact, task_rng


@pytest.mark.parametrize("b,c", [(0, 0), (1, 0), (5, 5), (60, 20), (3, 2), (200, 150), (0, 40)])
def test_mcnemar_matches_statsmodels_exact(b, c):
    from statsmodels.stats.contingency_tables import mcnemar

    want = mcnemar([[500, b], [c, 300]], exact=True).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(want, rel=1e-12, abs=1e-300)


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04, 1.0, 0.0001]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]), abs=1e-15)
    assert holm([]) == []


def _percentile(values: list[float], q: float) -> float:
    return float(np.quantile(np.array(values), q))


def test_index_bootstrap_equals_a_plain_loop_with_the_same_seed():
    """Continuous per-sample values (ROUGE-like): many distinct rows, the index sampler."""
    rng = np.random.default_rng(7)
    base = rng.random(250)
    cand = np.clip(base + rng.normal(-0.02, 0.1, 250), 0, 1)
    res, _ = compare_paired({"rougeL": base}, {"rougeL": cand}, task="medlfqa_live_qa", resamples=10_000,
                                seed=3, level=0.95)  # fmt: skip
    loop_rng, d, means = task_rng(3, "medlfqa_live_qa"), cand - base, []
    for _ in range(10_000):
        idx = loop_rng.integers(0, 250, size=250, dtype=np.int32)
        means.append(sum(d[i] for i in idx) / 250)
    r = res["rougeL"]
    assert r.test == "bootstrap" and r.discordant is None
    assert r.diff == pytest.approx(d.mean())
    assert r.ci == pytest.approx((_percentile(means, 0.025), _percentile(means, 0.975)), abs=1e-12)
    extreme = sum(abs(m - d.mean()) >= abs(d.mean()) for m in means)
    assert r.p_value == pytest.approx((1 + extreme) / 10_001)


def test_multinomial_bootstrap_is_index_resampling_in_distribution():
    """Binary pairs: counts of the distinct rows drawn directly; same seed -> the same as a loop of those draws,
    and the same CI as resampling indices (up to Monte-Carlo error)."""
    rng = np.random.default_rng(11)
    base = (rng.random(1000) < 0.6).astype(float)
    cand = base.copy()
    flip = rng.choice(1000, 90, replace=False)
    cand[flip[:60]] = 0
    cand[flip[60:]] = 1
    res, _ = compare_paired({"acc": base}, {"acc": cand}, task="medbench_medqa", resamples=10_000, seed=0, level=0.95)
    r = res["acc"]
    d = cand - base
    values, counts = np.unique(d[:, None], axis=0, return_counts=True)
    loop_rng, same_draws = task_rng(0, "medbench_medqa"), []
    for _ in range(10_000):
        k = loop_rng.multinomial(1000, counts / 1000)
        same_draws.append(float(sum(k[j] * values[j, 0] for j in range(len(k))) / 1000))
    assert r.ci == pytest.approx((_percentile(same_draws, 0.025), _percentile(same_draws, 0.975)), abs=1e-12)
    index_rng, by_index = np.random.default_rng(99), []
    for _ in range(10_000):
        by_index.append(d[index_rng.integers(0, 1000, 1000)].mean())
    assert r.ci[0] == pytest.approx(_percentile(by_index, 0.025), abs=0.004)  # MC error ~0.001 at this n
    assert r.ci[1] == pytest.approx(_percentile(by_index, 0.975), abs=0.004)
    b, c = int(((base == 1) & (cand == 0)).sum()), int(((base == 0) & (cand == 1)).sum())
    assert r.discordant == (b, c) and r.test == "mcnemar-exact"


def test_group_is_the_size_weighted_stratified_bootstrap():
    rng = np.random.default_rng(5)
    tasks = {"a": 400, "b": 150, "c": 50}
    pairs = {t: ((rng.random(n) < 0.5).astype(float), rng.random(n)) for t, n in tasks.items()}
    pairs = {t: (b, np.where(r < 0.1, 1 - b, b)) for t, (b, r) in pairs.items()}  # 10 % flipped
    draws = {}
    for t, (b, c) in pairs.items():
        _, d = compare_paired({"acc": b}, {"acc": c}, task=t, resamples=10_000, seed=1, level=0.9)
        draws[t] = d["acc"]
    group = combine_group(list(draws.values()), level=0.9)
    # loop: resample within each task with its own generator, combine by size
    per_task = {}
    for t, (b, c) in pairs.items():
        d = c - b
        values, counts = np.unique(d[:, None], axis=0, return_counts=True)
        g = task_rng(1, t)
        per_task[t] = [float(g.multinomial(len(d), counts / len(d)) @ values[:, 0]) / len(d) for _ in range(10_000)]
    combined = [sum(tasks[t] * per_task[t][i] for t in tasks) / 600 for i in range(10_000)]
    assert group.ci == pytest.approx((_percentile(combined, 0.05), _percentile(combined, 0.95)), abs=1e-12)
    all_b = np.concatenate([b for b, _ in pairs.values()])
    all_c = np.concatenate([c for _, c in pairs.values()])
    assert group.n == 600 and group.diff == pytest.approx(all_c.mean() - all_b.mean())
    assert group.discordant == stats.discordant(all_b, all_c)
    assert group.p_value == pytest.approx(mcnemar_exact(*stats.discordant(all_b, all_c)))


def test_a_task_seed_does_not_depend_on_other_tasks():
    x = np.random.default_rng(0).random(300)
    one = bootstrap_means(x, 10_000, task_rng(0, "medqa"))
    two = bootstrap_means(x, 10_000, task_rng(0, "medqa"))
    other = bootstrap_means(x, 10_000, task_rng(0, "medmcqa"))
    assert np.array_equal(one, two) and not np.array_equal(one, other)


def test_chunked_index_sampler_equals_one_draw(monkeypatch):
    x = np.random.default_rng(2).normal(size=(500, 2))
    whole = bootstrap_means(x, 10_000, np.random.default_rng(4))
    monkeypatch.setattr(stats, "CHUNK_ELEMENTS", 500 * 7)  # chunks of 7 resamples, a ragged last one
    assert np.array_equal(bootstrap_means(x, 10_000, np.random.default_rng(4)), whole)
