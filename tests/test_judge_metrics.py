"""Judged metrics (medxpert_ext.judge.metrics), on hand-computed cases."""

from __future__ import annotations

import math
import random

import pytest

from medxpert_ext.judge.metrics import (
    agreement,
    calibration_error,
    judge_accuracy,
    judge_error_rate,
    judged,
    statement_scores,
)
from medxpert_ext.judge.types import Verdict

C, I, E = Verdict("correct"), Verdict("incorrect"), Verdict("judge_error", error="timeout")


def test_judge_errors_are_excluded_not_counted_wrong():
    verdicts = [C, C, I, E, E, C]
    assert judged(verdicts) == [C, C, I, C]
    assert judge_accuracy(verdicts) == 3 / 4  # 3 correct of 4 judged; the 2 errors are not "incorrect"
    assert judge_error_rate(verdicts) == 2 / 6
    assert judge_accuracy([E, E]) is None and judge_error_rate([E, E]) == 1.0
    assert judge_accuracy([]) is None and judge_error_rate([]) == 0.0
    assert judge_accuracy([I]) == 0.0


def _shuffled(conf: list[float], correct: list[bool], seed: int = 7) -> tuple[list[float], list[bool]]:
    pairs = list(zip(conf, correct))
    random.Random(seed).shuffle(pairs)
    return [c for c, _ in pairs], [k for _, k in pairs]


def test_calibration_250_samples_hand_computed():
    # n = 250, beta = 100 -> 250 // 100 = 2 bins after sorting by confidence:
    #   bin 0 = samples 0..99, bin 1 = samples 100..249 (the last bin absorbs the 50 left over).
    # HLE's loop visits range(len(bins) - 1) = bin 0 only.
    #   bin 0: 100 samples at confidence 40 (-> 0.40), 10 correct -> accuracy 0.10, |0.40 - 0.10| = 0.30
    #   bin 1: 150 samples at confidence 90, none correct (|0.90 - 0| = 0.90) -- skipped, as in HLE.
    # error = sqrt(100/250 * 0.30^2) = sqrt(0.4 * 0.09) = sqrt(0.036) = 0.18973665961...
    conf = [40.0] * 100 + [90.0] * 150
    correct = [True] * 10 + [False] * 90 + [False] * 150
    conf, correct = _shuffled(conf, correct)  # sorting happens inside
    assert calibration_error(conf, correct) == pytest.approx(math.sqrt(0.036), abs=1e-12)
    assert calibration_error(conf, correct) == pytest.approx(0.1897366596, abs=1e-9)


def test_calibration_350_samples_two_visited_bins():
    # n = 350 -> 3 bins: [0,100), [100,200), [200,350); visited: bins 0 and 1.
    #   bin 0: confidence 20, 30/100 correct -> |0.2 - 0.3| = 0.1 -> 100/350 * 0.01
    #   bin 1: confidence 70, 40/100 correct -> |0.7 - 0.4| = 0.3 -> 100/350 * 0.09
    #   bin 2: confidence 95, 0/150 correct -> not visited
    # error = sqrt(100/350 * (0.01 + 0.09)) = sqrt(0.1 / 3.5) = sqrt(0.0285714...) = 0.16903085...
    conf = [20] * 100 + [70] * 100 + [95] * 150
    correct = [True] * 30 + [False] * 70 + [True] * 40 + [False] * 60 + [False] * 150
    conf, correct = _shuffled(conf, correct, seed=3)
    assert calibration_error(conf, correct) == pytest.approx(math.sqrt(0.1 / 3.5), abs=1e-12)


def test_calibration_small_beta_and_perfect_calibration():
    # beta = 1, n = 3: sorted confidences 0.0, 0.5, 1.0 with correctness F, T, T; visited bins 0 and 1:
    #   bin 0: |0.0 - 0| = 0; bin 1: |0.5 - 1| = 0.5 -> 1/3 * 0.25; bin 2 not visited.
    # error = sqrt(0.25 / 3) = 0.288675...
    assert calibration_error([100, 0, 50], [True, False, True], beta=1) == pytest.approx(math.sqrt(0.25 / 3))
    # confidence equal to accuracy in every bin -> 0
    conf = [30] * 100 + [80] * 100 + [10] * 100
    correct = [True] * 30 + [False] * 70 + [True] * 80 + [False] * 20 + [True] * 10 + [False] * 90
    assert calibration_error(conf, correct) == pytest.approx(0.0, abs=1e-12)


def test_calibration_ties_keep_input_order():
    # 200 samples all at confidence 50; bins [0,100) and [100,200), only bin 0 visited. A stable sort keeps the
    # input order, so bin 0 = the first 100 inputs (all correct): |0.5 - 1| = 0.5 -> sqrt(100/200 * 0.25).
    conf = [50] * 200
    assert calibration_error(conf, [True] * 100 + [False] * 100) == pytest.approx(math.sqrt(0.125))
    assert calibration_error(conf, [False] * 100 + [True] * 100) == pytest.approx(math.sqrt(0.125))


def test_calibration_too_few_samples_is_none():
    # HLE crashes for n < beta and returns 0.0 for beta <= n < 2*beta (no bin visited): here both are None.
    assert calibration_error([], []) is None
    assert calibration_error([90] * 99, [False] * 99) is None
    assert calibration_error([90] * 199, [False] * 199) is None
    assert calibration_error([90] * 200, [False] * 200) == pytest.approx(math.sqrt(0.5 * 0.81))
    assert calibration_error([90] * 10, [False] * 10, beta=5) == pytest.approx(math.sqrt(0.5 * 0.81))


def test_calibration_rejects_bad_input():
    with pytest.raises(ValueError):
        calibration_error([1.0, 2.0], [True])
    with pytest.raises(ValueError):
        calibration_error([50.0] * 300, [True] * 300, beta=0)
    with pytest.raises(ValueError):
        calibration_error([float("nan")] + [50.0] * 299, [True] * 300)


def test_agreement_lists_disagreeing_ids():
    ids = ["a", "b", "c", "d", "e"]
    judge = [True, False, None, True, False]  # c: the judge failed -> skipped
    rule = [True, True, False, False, False]
    share, disagree = agreement(ids, judge, rule)
    assert share == 2 / 4 and disagree == ["b", "d"]
    assert agreement(["a"], [None], [True]) == (None, [])
    assert agreement([], [], []) == (None, [])
    assert agreement(["a", "b"], [True, False], [True, False]) == (1.0, [])
    with pytest.raises(ValueError):
        agreement(["a"], [True, False], [True])


def test_statement_scores():
    # 3 must-have then 2 nice-to-have
    labels = ["supported", "contradicted", "supported", "not_mentioned", "contradicted"]
    scores = statement_scores(labels, n_must_have=3)
    assert scores == {"hallucination": pytest.approx(2 / 5), "comprehensiveness": pytest.approx(2 / 3)}
    # a supported nice-to-have statement does not raise comprehensiveness
    assert statement_scores(["not_mentioned", "supported"], 1) == {"hallucination": 0.0, "comprehensiveness": 0.0}
    # undefined scores are left out, not reported as 0
    assert statement_scores(["contradicted"], 0) == {"hallucination": 1.0}
    assert statement_scores([], 0) == {}
    with pytest.raises(ValueError):
        statement_scores(["supported"], 2)
    with pytest.raises(ValueError):
        statement_scores(["supported", "maybe"], 1)
