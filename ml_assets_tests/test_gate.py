"""The promotion gate on constructed cases, and its statistics against references."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ml_assets.gate import (
    GateRules,
    PairedComparison,
    decide_promotion,
    holm_adjust,
    paired_auc_difference,
    segment_comparisons,
)

RULES = GateRules(n_resamples=600)
GOOD = {"auc": 0.80, "brier": 0.12}


def text(decision):
    return " ".join(decision.reasons)


def scored(n: int, seed: int, noise: float = 1.0):
    """Labels and a champion score with a known signal."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    latent = y * 1.2 + rng.normal(0, noise, n)
    return y, 1 / (1 + np.exp(-latent)), rng


def comparison(diff: float, low: float) -> PairedComparison:
    return PairedComparison(diff, low, diff + (diff - low), 0.01, 1000, 200)


# ---------------------------------------------------------------- decisions, constructed


def test_first_model_passing_floors_is_promoted():
    decision = decide_promotion(1, GOOD, None, 1000, 150, RULES)
    assert decision.promote and "no champion yet" in text(decision)


@pytest.mark.parametrize(
    ("metrics", "words"),
    [
        ({"auc": 0.65, "brier": 0.12}, "below the floor"),
        ({"auc": 0.85, "brier": 0.25}, "ceiling"),
        ({"auc": math.nan, "brier": 0.1}, "undefined"),
    ],
)
def test_first_model_failing_floors_is_refused(metrics, words):
    decision = decide_promotion(1, metrics, None, 1000, 150, RULES)
    assert not decision.promote and words in text(decision)


@pytest.mark.parametrize(("rows", "positives"), [(199, 50), (1000, 19), (0, 0)])
def test_too_little_evidence_fails_closed(rows, positives):
    decision = decide_promotion(2, GOOD, 1, rows, positives, RULES, comparison(0.02, 0.01))
    assert not decision.promote and "too little evidence" in text(decision)


def test_missing_comparison_with_a_champion_fails_closed():
    decision = decide_promotion(2, GOOD, 1, 1000, 150, RULES, comparison=None)
    assert not decision.promote and "fail closed" in text(decision)


def test_same_version_is_not_promoted_again():
    decision = decide_promotion(3, GOOD, 3, 1000, 150, RULES, comparison(0, 0))
    assert not decision.promote and "already the champion" in text(decision)


@pytest.mark.parametrize(("low", "promoted"), [(0.02, True), (0.0, False), (-0.005, False)])
def test_floors_block_a_replacement_unless_it_is_significantly_better(low, promoted):
    weak = {"auc": 0.68, "brier": 0.15}
    decision = decide_promotion(2, weak, 1, 1000, 150, RULES, comparison(0.05, low))
    assert decision.promote is promoted, decision.reasons
    assert "below the floor" in text(decision)
    assert ("significantly better than champion v1" in text(decision)) is promoted


def test_floors_still_refuse_a_weak_first_model_whatever_else():
    weak = {"auc": 0.68, "brier": 0.15}
    assert not decide_promotion(1, weak, None, 1000, 150, RULES, comparison(0.05, 0.02)).promote


def test_a_significantly_better_replacement_below_the_floor_still_needs_its_segments():
    weak = {"auc": 0.68, "brier": 0.15}
    segments = [
        {"segment_column": "plan", "segment_value": "premium", "skipped": False, "worse": True}
    ]
    decision = decide_promotion(2, weak, 1, 1000, 150, RULES, comparison(0.05, 0.02), segments)
    assert not decision.promote and decision.worse_segments == ["plan=premium"]


def test_lower_bound_against_the_margin():
    inside = decide_promotion(2, GOOD, 1, 1000, 150, RULES, comparison(0.0, -0.0099))
    outside = decide_promotion(2, GOOD, 1, 1000, 150, RULES, comparison(0.0, -0.0101))
    assert inside.promote and "non-inferior" in text(inside)
    assert not outside.promote and "not shown non-inferior" in text(outside)


def test_a_significantly_worse_segment_blocks_promotion():
    segments = [
        {"segment_column": "plan", "segment_value": "premium", "skipped": False, "worse": True},
        {"segment_column": "plan", "segment_value": "basic", "skipped": False, "worse": False},
    ]
    decision = decide_promotion(2, GOOD, 1, 1000, 150, RULES, comparison(0.01, 0.0), segments)
    assert not decision.promote and decision.worse_segments == ["plan=premium"]


# ------------------------------------------------------- statistics on simulated models


def test_clearly_worse_model_is_refused():
    y, champion, rng = scored(4000, 1)
    challenger = 1 / (1 + np.exp(-(np.log(champion / (1 - champion)) + rng.normal(0, 1.5, 4000))))
    comp = paired_auc_difference(y, challenger, champion, RULES)
    truth = roc_auc_score(y, challenger) - roc_auc_score(y, champion)
    assert comp.difference == pytest.approx(truth, abs=1e-12)
    assert comp.difference < -0.05 and comp.ci_low < -RULES.auc_margin
    assert not decide_promotion(2, GOOD, 1, 4000, int(y.sum()), RULES, comp).promote


def test_equivalent_model_is_accepted_within_the_margin():
    y, champion, rng = scored(4000, 2)
    # A retrain on similar data: nearly the same scores, slightly perturbed.
    challenger = np.clip(champion + rng.normal(0, 0.01, 4000), 0, 1)
    comp = paired_auc_difference(y, challenger, champion, RULES)
    assert abs(comp.difference) < 0.005 and comp.ci_low > -RULES.auc_margin
    segments = segment_comparisons(
        y,
        challenger,
        champion,
        pd.DataFrame({"overall": "all", "plan": rng.choice(["a", "b", "c"], 4000)}),
        RULES,
    )
    decision = decide_promotion(2, GOOD, 1, 4000, int(y.sum()), RULES, comp, segments)
    assert decision.promote, decision.reasons


def test_underpowered_test_set_cannot_show_non_inferiority():
    y, champion, rng = scored(220, 3)
    challenger = 1 / (1 + np.exp(-(np.log(champion / (1 - champion)) + rng.normal(0, 0.5, 220))))
    comp = paired_auc_difference(y, challenger, champion, RULES)
    # Few rows: the interval is too wide to rule out a loss larger than the margin.
    assert comp.ci_low < -RULES.auc_margin
    assert not decide_promotion(2, GOOD, 1, 220, int(y.sum()), RULES, comp).promote


def test_worse_segment_is_found_and_others_are_not():
    y, champion, rng = scored(6000, 4)
    plan = rng.choice(["basic", "standard", "premium"], 6000, p=[0.45, 0.4, 0.15])
    challenger = champion.copy()
    premium = plan == "premium"
    challenger[premium] = rng.random(premium.sum())  # useless scores in one segment
    segments = segment_comparisons(
        y, challenger, champion, pd.DataFrame({"overall": "all", "plan": plan}), RULES
    )
    by_value = {s["segment_value"]: s for s in segments}
    assert by_value["premium"]["worse"] and by_value["premium"]["p_adjusted"] <= 0.05
    assert not by_value["basic"]["worse"] and not by_value["standard"]["worse"]
    sub = premium
    expected = roc_auc_score(y[sub], challenger[sub]) - roc_auc_score(y[sub], champion[sub])
    assert by_value["premium"]["difference"] == pytest.approx(expected, abs=1e-12)


def test_small_segments_are_skipped_not_judged():
    y, champion, rng = scored(1000, 5)
    region = np.where(np.arange(1000) < 20, "tiny", "big")
    segments = segment_comparisons(
        y, champion, champion, pd.DataFrame({"overall": "all", "region": region}), RULES
    )
    tiny = next(s for s in segments if s["segment_value"] == "tiny")
    assert tiny["skipped"] and not tiny["worse"]


def test_holm_matches_a_direct_computation():
    rng = np.random.default_rng(6)
    p = rng.random(9) ** 3
    order = np.argsort(p)
    m = len(p)
    expected = np.empty(m)
    for i in range(m):
        rank = int(np.where(order == i)[0][0])
        expected[i] = min(1.0, max((m - k) * p[order[k]] for k in range(rank + 1)))
    np.testing.assert_allclose(holm_adjust(p.tolist()), expected)


@pytest.mark.slow  # hundreds of bootstraps to estimate a coverage rate: a minute of CPU
def test_bootstrap_interval_covers_the_true_difference_at_the_nominal_rate():
    """Draw many test sets from one population with a known AUC difference."""
    rng = np.random.default_rng(7)
    n_pop = 200_000
    y = (rng.random(n_pop) < 0.2).astype(int)
    shared = y * 1.0 + rng.normal(0, 1, n_pop)
    champion = shared + rng.normal(0, 0.6, n_pop)
    challenger = shared + rng.normal(0, 0.5, n_pop)
    true_diff = roc_auc_score(y, challenger) - roc_auc_score(y, champion)
    covered, sims = 0, 160
    for s in range(sims):
        idx = rng.integers(0, n_pop, 1500)
        comp = paired_auc_difference(
            y[idx], challenger[idx], champion[idx], GateRules(n_resamples=300, seed=s)
        )
        covered += comp.ci_low <= true_diff <= comp.ci_high
    # Two-sided 90 % interval (5 % in each tail); binomial sd at 160 draws is about 2.4 %.
    assert 0.82 <= covered / sims <= 0.97, covered / sims
