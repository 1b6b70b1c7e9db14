"""The statistics of ml_assets.drift against scipy on the same data.

Every number the drift report carries -- KS statistic and p-value, chi-square statistic and
p-value, Wasserstein and Jensen-Shannon distances, Benjamini-Hochberg adjustment -- is
recomputed here with scipy's own implementation, on synthetic data with ties, empty cells
and skew, and on a generated day through compute_drift.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import (
    chi2_contingency,
    false_discovery_control,
    ks_2samp,
    wasserstein_distance,
)

from ml_assets import drift
from ml_assets.features import build_customer_features
from ml_assets_examples.churn.generator import GeneratorConfig, generate_day

START = dt.date(2025, 1, 1)


def expand(values, counts):
    return np.repeat(np.asarray(values, dtype=float), np.asarray(counts))


def weighted_reference(rng, kind, size):
    """Distinct sorted reference values with counts: continuous, integer (ties) or 0/1."""
    if kind == "continuous":
        raw = rng.gamma(2.0, 10.0, size)
    elif kind == "integer":
        raw = rng.poisson(3.0, size).astype(float)
    else:
        raw = (rng.random(size) < 0.1).astype(float)
    return np.unique(raw, return_counts=True)


def current_sample(rng, kind, size, shift):
    if kind == "continuous":
        return rng.gamma(2.0, 10.0, size) + shift
    if kind == "integer":
        return rng.poisson(3.0 + shift, size).astype(float)
    return (rng.random(size) < 0.1 + shift / 10).astype(float)


# --------------------------------------------------------------------------- KS and W1


@pytest.mark.parametrize("kind", ["continuous", "integer", "binary"])
@pytest.mark.parametrize("seed", range(4))
def test_ks_statistic_pvalue_and_wasserstein_equal_scipy(kind, seed):
    rng = np.random.default_rng(seed)
    values, counts = weighted_reference(rng, kind, int(rng.integers(200, 5000)))
    shift = float(rng.choice([0.0, 0.3, 2.0]))
    current = np.sort(current_sample(rng, kind, int(rng.integers(50, 3000)), shift))
    reference = expand(values, counts)

    d, w1 = drift.ecdf_distances(values, counts, current)
    expected = ks_2samp(reference, current, method="asymp")
    assert d == expected.statistic  # the same integer counts and divisions: bit-identical
    assert drift.ks_pvalue(d, reference.size, current.size) == pytest.approx(
        expected.pvalue, rel=1e-12, abs=1e-300
    )
    # Weighted reference (values + counts) and the expanded reference agree with scipy.
    assert w1 == pytest.approx(
        wasserstein_distance(values, current, u_weights=counts), rel=1e-9, abs=1e-12
    )
    assert w1 == pytest.approx(wasserstein_distance(reference, current), rel=1e-9, abs=1e-12)


def test_ks_with_current_values_outside_and_on_reference_values():
    values, counts = np.array([1.0, 2.0, 3.0]), np.array([5, 1, 4])
    current = np.sort(np.array([0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.5, 9.0]))
    d, w1 = drift.ecdf_distances(values, counts, current)
    expected = ks_2samp(expand(values, counts), current, method="asymp")
    assert d == expected.statistic
    assert w1 == pytest.approx(wasserstein_distance(expand(values, counts), current))


def test_ks_pvalue_beyond_the_exact_n_range_uses_the_limit_distribution():
    # Effective size above KS_LIMIT_N: kstwobign instead of kstwo, within 1 % of scipy.
    rng = np.random.default_rng(9)
    reference = np.sort(rng.normal(0, 1, 60_000))
    current = np.sort(rng.normal(0.02, 1, 40_000))
    values, counts = np.unique(reference, return_counts=True)
    d, _ = drift.ecdf_distances(values, counts, current)
    expected = ks_2samp(reference, current, method="asymp")
    assert drift.KS_LIMIT_N < 60_000 * 40_000 / 100_000
    assert d == expected.statistic
    assert drift.ks_pvalue(d, reference.size, current.size) == pytest.approx(
        expected.pvalue, rel=1e-2
    )


# --------------------------------------------------------------------------- chi-square, JS


@pytest.mark.parametrize("seed", range(6))
def test_chi2_homogeneity_equals_chi2_contingency(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    ref = rng.integers(0, 500, k)
    cur = rng.integers(0, 80, k)
    ref[0] = cur[0] = 0  # a cell empty on both sides is dropped, as it must be
    if k > 2:
        ref[-1] = 0  # a cell only the day has (an unseen category) is kept
        cur[-1] = max(cur[-1], 3)
    table = np.vstack([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    stat, p = drift.chi2_homogeneity(ref, cur)
    expected = chi2_contingency(table, correction=False)
    assert stat == pytest.approx(expected.statistic, rel=1e-10)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_chi2_homogeneity_without_two_cells_is_no_test():
    stat, p = drift.chi2_homogeneity(np.array([10, 0]), np.array([5, 0]))
    assert np.isnan(stat) and np.isnan(p)
    stat, p = drift.chi2_homogeneity(np.array([10, 5]), np.array([0, 0]))
    assert np.isnan(stat) and np.isnan(p)


@pytest.mark.parametrize("seed", range(6))
def test_js_distance_equals_scipy(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 12))
    ref = rng.integers(0, 100, k).astype(float)
    cur = rng.integers(0, 100, k).astype(float)
    ref[0], cur[-1] = 0.0, 0.0  # empty cells on either side
    assert drift.js_distance(ref, cur) == pytest.approx(
        jensenshannon(ref, cur, base=2), rel=1e-9, abs=1e-12
    )


def test_js_distance_bounds():
    assert drift.js_distance(np.array([1.0, 2.0]), np.array([2.0, 4.0])) == 0.0
    assert drift.js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)


# --------------------------------------------------------------------------- BH


@pytest.mark.parametrize("seed", range(6))
def test_benjamini_hochberg_equals_scipy(seed):
    rng = np.random.default_rng(seed)
    p = np.r_[rng.random(12) ** 3, rng.random(3) * 1e-4, [0.2, 0.2]]  # ties too
    rng.shuffle(p)
    np.testing.assert_allclose(drift.benjamini_hochberg(p), false_discovery_control(p), rtol=1e-12)


def test_benjamini_hochberg_ignores_untested_features():
    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan])
    adjusted = drift.benjamini_hochberg(p)
    assert np.isnan(adjusted[[1, 4]]).all()
    np.testing.assert_allclose(adjusted[[0, 2, 3]], false_discovery_control([0.01, 0.04, 0.03]))
    assert np.isnan(drift.benjamini_hochberg(np.array([np.nan]))).all()


# --------------------------------------------------------------------------- sample


def test_reference_sample_is_capped_deterministic_and_order_free():
    rng = np.random.default_rng(4)
    values = rng.normal(0, 1, 30_000)
    values[::50] = np.nan
    v1, c1 = drift.reference_sample(values, 5_000)
    v2, c2 = drift.reference_sample(rng.permutation(values), 5_000)
    np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(c1, c2)
    assert c1.sum() == 5_000 and np.all(np.diff(v1) > 0)
    assert np.isin(v1, values).all()
    v_all, c_all = drift.reference_sample(values, None)
    assert c_all.sum() == np.count_nonzero(~np.isnan(values))


# --------------------------------------------------------------------------- the report


@pytest.fixture(scope="module")
def generated():
    config = GeneratorConfig(start=START, rows_per_day=800, seed=21)
    frames = [generate_day(config, START + dt.timedelta(days=i))[0] for i in range(8)]
    reference = build_customer_features(pd.concat(frames, ignore_index=True))
    shifted = GeneratorConfig(
        start=START,
        rows_per_day=800,
        seed=21,
        scenario="covariate",
        drift_start=START + dt.timedelta(days=9),
        drift_columns=("monthly_charges",),
        drift_magnitude=0.3,
    )
    current = build_customer_features(generate_day(shifted, START + dt.timedelta(days=9))[0])
    # A small reference sample, so the KS test really uses a subsample.
    profile = drift.build_reference_profile(
        reference, drift.DriftRules(reference_sample_size=2_000), model_version=3
    )
    return reference, current, profile


def test_report_numbers_equal_scipy_on_a_generated_day(generated):
    reference, current, profile = generated
    outcome = drift.compute_drift(current, profile, START, drift.DriftRules())
    report = outcome.report.set_index("feature")
    for col, ref in profile["numeric"].items():
        row = report.loc[col]
        day = current[col].astype(float).dropna().to_numpy()
        sample = expand(ref["sample_values"], ref["sample_counts"])
        assert row["effect_size"] == pytest.approx(
            wasserstein_distance(sample, day) / np.std(reference[col].dropna()), rel=1e-9
        )
        if ref["discrete"]:
            # One bin per reference value: counts by explicit comparisons.
            bounds = [-np.inf, *ref["edges"], np.inf]
            cur = [
                np.count_nonzero((day >= lo) & (day < hi))
                for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
            ]
            table = np.vstack([ref["counts"], cur])
            expected = chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)
            assert row["test"] == "chi2"
        else:
            expected = ks_2samp(sample, day, method="asymp")
            assert row["test"] == "ks"
        assert row["statistic"] == pytest.approx(expected.statistic, rel=1e-9)
        assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    for col, ref in profile["categorical"].items():
        row = report.loc[col]
        counts = current[col].value_counts().reindex(ref["categories"], fill_value=0)
        table = np.vstack([np.array(ref["counts"][:-1]), counts.to_numpy()])
        expected = chi2_contingency(table, correction=False)
        assert row["test"] == "chi2"
        assert row["statistic"] == pytest.approx(expected.statistic, rel=1e-9)
        assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
        assert row["effect_size"] == pytest.approx(jensenshannon(table[0], table[1], base=2))
    np.testing.assert_allclose(
        report["p_value_adjusted"], false_discovery_control(report["p_value"]), rtol=1e-12
    )
    assert report.loc["monthly_charges", "drifted"]
    assert report.loc["monthly_charges", "effect_size"] == pytest.approx(0.3, abs=0.05)
