"""Tests of ml_assets.gate.decide_promotion on constructed cases."""

from __future__ import annotations

import math

import pytest

from ml_assets.gate import GateRules, decide_promotion

RULES = GateRules(min_auc=0.70, max_brier=0.20, auc_margin=0.01, min_test_rows=200,
                  min_test_positives=20)
GOOD = {"auc": 0.80, "brier": 0.12}


def decide(challenger, champion_version=None, champion=None, rows=1000, positives=150,
           version=2, rules=RULES):
    return decide_promotion(version, challenger, champion_version, champion, rows, positives,
                            rules)


def text(decision):
    return " ".join(decision.reasons)


def test_first_model_passing_floors_is_promoted():
    decision = decide(GOOD)
    assert decision.promote is True
    assert decision.champion_version is None and decision.challenger_version == 2
    assert "no champion yet" in text(decision)


def test_first_model_below_auc_floor_is_refused():
    decision = decide({"auc": 0.65, "brier": 0.12})
    assert decision.promote is False
    assert "below the floor" in text(decision) and "0.70" in text(decision)


def test_first_model_above_brier_ceiling_is_refused():
    decision = decide({"auc": 0.85, "brier": 0.25})
    assert decision.promote is False
    assert "Brier" in text(decision) and "ceiling" in text(decision)


def test_floors_are_inclusive():
    assert decide({"auc": 0.70, "brier": 0.20}).promote is True


def test_challenger_clearly_worse_than_champion_is_refused():
    decision = decide({"auc": 0.76, "brier": 0.12}, champion_version=1,
                      champion={"auc": 0.80, "brier": 0.11})
    assert decision.promote is False
    assert "worse than the champion" in text(decision)


@pytest.mark.parametrize("challenger_auc", [0.795, 0.80, 0.83])
def test_challenger_within_margin_or_better_is_promoted(challenger_auc):
    decision = decide({"auc": challenger_auc, "brier": 0.12}, champion_version=1,
                      champion={"auc": 0.80, "brier": 0.12})
    assert decision.promote is True
    assert "within the margin" in text(decision)


def test_margin_boundary():
    champion = {"auc": 0.80, "brier": 0.12}
    just_inside = decide({"auc": 0.7901, "brier": 0.12}, 1, champion)
    just_outside = decide({"auc": 0.7899, "brier": 0.12}, 1, champion)
    assert just_inside.promote is True
    assert just_outside.promote is False


def test_challenger_better_than_champion_but_below_floor_is_refused():
    decision = decide({"auc": 0.66, "brier": 0.12}, champion_version=1,
                      champion={"auc": 0.60, "brier": 0.15})
    assert decision.promote is False
    assert "below the floor" in text(decision)


@pytest.mark.parametrize(("rows", "positives"), [(199, 50), (1000, 19), (0, 0)])
def test_too_little_evidence_fails_closed(rows, positives):
    decision = decide(GOOD, rows=rows, positives=positives)
    assert decision.promote is False
    assert "too little evidence" in text(decision)


@pytest.mark.parametrize("challenger", [
    {"auc": math.nan, "brier": 0.1},
    {"auc": 0.8, "brier": math.nan},
    {"brier": 0.1},
    {},
])
def test_undefined_challenger_metrics_fail_closed(challenger):
    decision = decide(challenger)
    assert decision.promote is False
    assert "undefined" in text(decision)


def test_undefined_champion_auc_skips_the_comparison_only():
    decision = decide(GOOD, champion_version=1, champion={"auc": math.nan})
    assert decision.promote is True
    assert "comparison skipped" in text(decision)
    refused = decide({"auc": 0.5, "brier": 0.1}, champion_version=1, champion={"auc": math.nan})
    assert refused.promote is False


def test_same_version_as_champion_is_not_promoted():
    decision = decide(GOOD, champion_version=2, champion=GOOD, version=2)
    assert decision.promote is False
    assert "already the champion" in text(decision)


def test_as_dict_round_trip():
    decision = decide(GOOD)
    assert decision.as_dict() == {"promote": True, "challenger_version": 2,
                                  "champion_version": None, "reasons": decision.reasons}
