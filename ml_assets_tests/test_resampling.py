"""Weighted metrics against sklearn's sample_weight and direct computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from ml_assets import resampling as rs


@pytest.fixture()
def data():
    rng = np.random.default_rng(3)
    n = 2500
    y = (rng.random(n) < 0.25).astype(int)
    # Rounded scores make ties, the case rank formulas get wrong most often.
    p = np.round(np.clip(0.3 * y + rng.random(n) * 0.6, 0.001, 0.999), 2)
    return y, p, rs.bootstrap_weights(n, 4, seed=9)


def test_bootstrap_weights_are_resample_counts():
    w = rs.bootstrap_weights(100, 50, seed=1)
    assert w.shape == (50, 100)
    np.testing.assert_array_equal(w.sum(axis=1), 100)
    assert np.array_equal(w, rs.bootstrap_weights(100, 50, seed=1))


def test_weighted_metrics_equal_sklearn_with_sample_weight(data):
    y, p, weights = data
    metrics = rs.all_metrics(y, p, weights, threshold=0.4)
    for b, w in enumerate(weights):
        pred = p >= 0.4
        assert metrics["auc"][b] == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)
        assert metrics["pr_auc"][b] == pytest.approx(
            average_precision_score(y, p, sample_weight=w), abs=1e-12
        )
        assert metrics["log_loss"][b] == pytest.approx(log_loss(y, p, sample_weight=w), abs=1e-12)
        assert metrics["brier"][b] == pytest.approx(
            brier_score_loss(y, p, sample_weight=w), abs=1e-12
        )
        assert metrics["precision"][b] == pytest.approx(
            precision_score(y, pred, sample_weight=w), abs=1e-12
        )
        assert metrics["recall"][b] == pytest.approx(
            recall_score(y, pred, sample_weight=w), abs=1e-12
        )
        assert metrics["f1"][b] == pytest.approx(f1_score(y, pred, sample_weight=w), abs=1e-12)


def test_expected_calibration_error_matches_a_direct_loop(data):
    y, p, _ = data
    ece = rs.weighted_calibration(y, p, np.ones((1, len(y))))[0]
    expected = 0.0
    edges = np.arange(rs.CALIBRATION_BINS + 1) / rs.CALIBRATION_BINS
    for i in range(rs.CALIBRATION_BINS):
        upper = p <= edges[i + 1] if i == rs.CALIBRATION_BINS - 1 else p < edges[i + 1]
        mask = (p >= edges[i]) & upper
        if mask.any():
            expected += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    assert ece == pytest.approx(expected, abs=1e-12)
    curve = rs.reliability_curve(y, p)
    assert sum(c["n"] for c in curve) == len(y)


def test_top_decile_capture_and_lift():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1] * 10)
    p = np.linspace(1, 0, 100)  # the first 10 rows are the top decile
    out = rs.weighted_top_share(y, p, np.ones((1, 100)))
    expected_capture = y[:10].sum() / y.sum()
    assert out["capture_top_decile"][0] == pytest.approx(expected_capture)
    assert out["lift_top_decile"][0] == pytest.approx(expected_capture / 0.10)


def test_single_class_gives_nan_auc():
    y = np.zeros(10, dtype=int)
    assert np.isnan(rs.weighted_auc(y, np.linspace(0, 1, 10), np.ones((1, 10)))[0])


@pytest.mark.parametrize("n_rows", [1, 2, 57, 3001])
def test_bootstrap_auc_equals_the_dense_weight_matrix_and_sklearn(n_rows, monkeypatch):
    # Small batches, so the draws are taken in several pieces from the generator.
    monkeypatch.setattr(rs, "_BATCH_CELLS", 1000)
    rng = np.random.default_rng(n_rows)
    y = (rng.random(n_rows) < 0.3).astype(int)
    p = np.round(rng.random(n_rows), 2)  # ties between scores
    weights = rs.bootstrap_weights(n_rows, 60, seed=9)
    dense = rs.weighted_auc(y, p, weights)
    np.testing.assert_array_equal(rs.bootstrap_auc(y, p, 60, seed=9), dense)
    for row, auc in zip(weights, dense, strict=True):
        if np.isnan(auc):
            assert len(np.unique(y[row > 0])) < 2
        else:
            assert auc == pytest.approx(roc_auc_score(y, p, sample_weight=row), abs=1e-12)


def test_bootstrap_weights_count_each_draw():
    n_rows, n_resamples, seed = 50, 30, 4
    draws = np.random.default_rng(seed).integers(0, n_rows, size=(n_resamples, n_rows))
    expected = np.zeros((n_resamples, n_rows))
    np.add.at(expected, (np.arange(n_resamples)[:, None], draws), 1.0)
    np.testing.assert_array_equal(rs.bootstrap_weights(n_rows, n_resamples, seed), expected)
