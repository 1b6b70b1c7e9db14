"""Tests of ml_assets.evaluation: every metric against sklearn as the independent reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from ml_assets import evaluation as ev
from ml_assets.dataset import active_spec
from ml_assets.schemas import EvaluationReport

SEEDS = range(8)


def random_case(seed, rounded):
    """Random labels with informative scores; rounding the scores creates many ties."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    y = rng.random(n) < rng.uniform(0.1, 0.6)
    y[:2] = [True, False]  # both classes present
    p = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
    if rounded:
        p = np.round(p, 1)
    return y.astype(int), p


@pytest.mark.parametrize("rounded", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("seed", SEEDS)
def test_ranking_metrics_equal_sklearn(seed, rounded):
    y, p = random_case(seed, rounded)
    assert ev.roc_auc(y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert ev.average_precision(y, p) == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)


@pytest.mark.parametrize("rounded", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("seed", SEEDS)
def test_probability_metrics_equal_sklearn(seed, rounded):
    y, p = random_case(seed, rounded)
    assert ev.log_loss(y, p) == pytest.approx(skm.log_loss(y, p, labels=[0, 1]), rel=1e-12)
    assert ev.brier(y, p) == pytest.approx(skm.brier_score_loss(y, p), rel=1e-12)


def test_log_loss_is_finite_for_certain_wrong_predictions():
    """p exactly 0 or 1 is clipped (as sklearn does), so one confident mistake is finite."""
    y = np.array([1, 0, 1, 0])
    p = np.array([0.0, 1.0, 1.0, 0.0])
    value = ev.log_loss(y, p)
    assert math.isfinite(value)
    assert value == pytest.approx(skm.log_loss(y, p), rel=1e-9)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("seed", SEEDS)
def test_threshold_metrics_equal_sklearn(seed, threshold):
    y, p = random_case(seed, rounded=True)  # rounded: many scores sit exactly on the cut
    pred = (p >= threshold).astype(int)
    got = ev.threshold_metrics(y, p, threshold)
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, zero_division=0))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, zero_division=0))
    assert got["positive_rate"] == pytest.approx(pred.sum() / len(pred))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))


def test_threshold_is_inclusive():
    """A score equal to the threshold counts as a positive prediction."""
    got = ev.threshold_metrics(np.array([1, 0]), np.array([0.5, 0.2]), 0.5)
    assert got == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "positive_rate": 0.5,
        "accuracy": 1.0,
    }


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1, 1]], ids=["all-negative", "all-positive"])
def test_auc_undefined_for_a_single_class(labels):
    assert math.isnan(ev.roc_auc(np.array(labels), np.array([0.1, 0.5, 0.9])))


def test_average_precision_undefined_without_positives():
    assert math.isnan(ev.average_precision(np.zeros(4), np.array([0.1, 0.2, 0.3, 0.4])))


def test_tiny_cases_equal_sklearn():
    # Two rows, one of each class, in both orders, and a full tie.
    for y, p in [([0, 1], [0.2, 0.8]), ([1, 0], [0.2, 0.8]), ([0, 1], [0.5, 0.5])]:
        y, p = np.array(y), np.array(p)
        assert ev.roc_auc(y, p) == pytest.approx(skm.roc_auc_score(y, p))
        assert ev.average_precision(y, p) == pytest.approx(skm.average_precision_score(y, p))
    # A single positive row: AP is 1, AUC undefined.
    assert ev.average_precision(np.array([1]), np.array([0.3])) == pytest.approx(
        skm.average_precision_score([1], [0.3])
    )
    assert math.isnan(ev.roc_auc(np.array([1]), np.array([0.3])))


def test_threshold_metrics_without_predicted_positives_are_zero():
    got = ev.threshold_metrics(np.array([1, 0, 1]), np.array([0.1, 0.2, 0.3]), 0.9)
    assert got == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "positive_rate": 0.0,
        "accuracy": pytest.approx(1 / 3),
    }


@pytest.mark.parametrize(
    ("days", "band"),
    [
        (0, "0-3m"),
        (89, "0-3m"),
        (90, "3-12m"),
        (364, "3-12m"),
        (365, "1-2y"),
        (729, "1-2y"),
        (730, "2y+"),
        (5000, "2y+"),
        (-1, "unknown"),
    ],
)
def test_tenure_band_boundaries(days, band):
    """Bands are half-open [low, high): the boundary day belongs to the upper band."""
    band_segment = next(s for s in active_spec().segments if s.name == "tenure_band")
    assert band_segment.values_of(pd.DataFrame({"tenure_days": [days]}, index=[7])).loc[7] == band


# --------------------------------------------------------------------------- metrics_table


@pytest.fixture(scope="module")
def scored_test():
    rng = np.random.default_rng(11)
    n = 1500
    test = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "standard", "premium"], n),
            "contract": rng.choice(["monthly", "annual", "two_year"], n, p=[0.6, 0.3, 0.1]),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "tenure_days": rng.integers(0, 1500, n),
            "churned": pd.array(rng.random(n) < 0.25, dtype="Int64"),
        },
        index=rng.permutation(np.arange(10_000, 10_000 + n)),
    )  # non-default index
    proba = np.clip(0.35 * test["churned"].to_numpy(dtype=float) + 0.65 * rng.random(n), 0, 1)
    return test, np.round(proba, 2)


def expected_segments(test):
    bands = pd.cut(
        test["tenure_days"],
        [0, 90, 365, 730, 10**9],
        right=False,
        labels=["0-3m", "3-12m", "1-2y", "2y+"],
    ).astype(str)
    return {
        "plan": test["plan"],
        "contract": test["contract"],
        "region": test["region"],
        "tenure_band": bands,
    }


def test_metrics_table_overall_equals_sklearn(scored_test):
    test, proba = scored_test
    table = ev.metrics_table(
        test, proba, 0.4, model_version=3, model_run_id="run", role="challenger"
    )
    overall = table[table["segment_column"] == "overall"].set_index("metric")["value"]
    y = test["churned"].astype(int).to_numpy()
    pred = (proba >= 0.4).astype(int)
    assert set(overall.index) == set(ev.METRICS)
    assert overall["auc"] == pytest.approx(skm.roc_auc_score(y, proba))
    assert overall["pr_auc"] == pytest.approx(skm.average_precision_score(y, proba))
    assert overall["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    assert overall["brier"] == pytest.approx(skm.brier_score_loss(y, proba))
    assert overall["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert overall["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert overall["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert overall["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert ev.headline(table) == pytest.approx(overall.to_dict())


def test_metrics_table_segments_match_groupby_and_sklearn(scored_test):
    test, proba = scored_test
    table = ev.metrics_table(
        test, proba, 0.4, model_version=3, model_run_id="run", role="challenger"
    )
    y = test["churned"].astype(int)
    p = pd.Series(proba, index=test.index)
    for col, key in expected_segments(test).items():
        rows = table[table["segment_column"] == col]
        counts = y.groupby(key).agg(["size", "sum"])
        assert sorted(rows["segment_value"].unique()) == sorted(counts.index)
        for value, (n_rows, n_pos) in counts.iterrows():
            seg = rows[rows["segment_value"] == value]
            assert len(seg) == len(ev.METRICS)
            assert (seg["n_rows"] == n_rows).all() and (seg["n_positives"] == n_pos).all()
            mask = (key == value).to_numpy()
            auc = seg.loc[seg["metric"] == "auc", "value"].item()
            assert auc == pytest.approx(skm.roc_auc_score(y[mask], p[mask]))


def test_metrics_table_fits_the_report_schema(scored_test):
    test, proba = scored_test
    table = ev.metrics_table(test, proba, 0.4, model_version=3, model_run_id="run", role="champion")
    EvaluationReport.validate(table)
    assert (table["model_version"] == 3).all() and (table["role"] == "champion").all()
    assert (table["threshold"] == 0.4).all()


def test_metrics_table_single_class_segment_has_null_auc():
    test = pd.DataFrame(
        {
            "plan": ["basic", "basic", "premium", "premium"],
            "contract": ["monthly"] * 4,
            "region": ["north"] * 4,
            "tenure_days": [10, 20, 400, 800],
            "churned": [0, 0, 1, 0],
        }
    )
    table = ev.metrics_table(test, np.array([0.1, 0.2, 0.9, 0.3]), 0.5, 1, "r", "challenger")
    basic_auc = table[(table["segment_value"] == "basic") & (table["metric"] == "auc")]
    assert basic_auc["value"].isna().all()
    overall_auc = table[(table["segment_column"] == "overall") & (table["metric"] == "auc")]
    assert overall_auc["value"].item() == pytest.approx(1.0)


def test_metrics_table_skips_small_segments():
    test = pd.DataFrame(
        {
            "plan": ["basic"] * 5 + ["premium"],
            "contract": ["monthly"] * 6,
            "region": ["north"] * 6,
            "tenure_days": [10] * 6,
            "churned": [0, 1, 0, 1, 0, 1],
        }
    )
    table = ev.metrics_table(
        test, np.linspace(0.1, 0.9, 6), 0.5, 1, "r", "challenger", min_segment_rows=2
    )
    plans = set(table.loc[table["segment_column"] == "plan", "segment_value"])
    assert plans == {"basic"}
