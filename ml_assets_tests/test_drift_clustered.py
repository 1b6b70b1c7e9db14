"""Drift tests with rows correlated within a day (the reference profile's ``icc``).

The statistics are checked against scipy computed independently (one-way ANOVA F from
``f_oneway``, ``chi2_contingency``, ``kstwo``); the behaviour on simulated days whose rows
share a day effect, as flights share an hour's weather: calm days are not flagged, a shift far
outside the day-to-day range still is, and without the date column nothing changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2, chi2_contingency, f_oneway, kstwo

from ml_assets import drift
from ml_assets.dataset import active_spec

START = dt.date(2025, 1, 1)


def clustered_days(rng, n_days: int, rows: int, icc: float, shift: float = 0.0) -> pd.DataFrame:
    """Days of rows ``day effect + noise`` with the given share of variance between days."""
    frames = []
    for i in range(n_days):
        effect = rng.normal(shift, np.sqrt(icc))
        n = int(rng.integers(rows // 2, rows * 3 // 2))
        frames.append(
            pd.DataFrame(
                {
                    "day": pd.Timestamp(START + dt.timedelta(days=i)),
                    "x": effect + rng.normal(0, np.sqrt(1 - icc), n),
                    "c": np.where(rng.random(n) < 0.3 + 0.2 * np.tanh(effect), "a", "b"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def icc_from_scipy(values: np.ndarray, days: np.ndarray) -> float:
    groups = [values[days == d] for d in np.unique(days)]
    f_stat = f_oneway(*groups).statistic
    sizes = np.array([len(g) for g in groups], dtype=float)
    n0 = (sizes.sum() - np.sum(sizes**2) / sizes.sum()) / (len(groups) - 1)
    return float(np.clip((f_stat - 1) / (f_stat + n0 - 1), 0, 1))


def test_icc_equals_the_anova_estimator_from_scipy_f_oneway():
    rng = np.random.default_rng(1)
    rows = clustered_days(rng, 25, 200, icc=0.3)
    values, days = rows["x"].to_numpy(), rows["day"].to_numpy()
    ours = drift.intraclass_correlation(values, days, alpha=0.01)
    assert ours == pytest.approx(icc_from_scipy(values, days), rel=1e-9)
    assert 0.15 < ours < 0.5
    # Nulls are left out, as the profile leaves them out.
    with_nulls = values.copy()
    with_nulls[::7] = np.nan
    keep = ~np.isnan(with_nulls)
    assert drift.intraclass_correlation(with_nulls, days, 0.01) == pytest.approx(
        icc_from_scipy(with_nulls[keep], days[keep]), rel=1e-9
    )


def test_icc_is_zero_for_independent_rows_and_one_for_a_per_day_constant():
    rng = np.random.default_rng(2)
    days = np.repeat(np.arange(30), 300)
    independent = rng.normal(size=days.size)
    assert f_oneway(*[independent[days == d] for d in range(30)]).pvalue > 0.01
    assert drift.intraclass_correlation(independent, days, alpha=0.01) == 0.0
    weekday = (days % 7).astype(float)
    assert drift.intraclass_correlation(weekday, days, alpha=0.01) == 1.0


def test_category_icc_is_the_rao_scott_weighted_mean_of_indicator_iccs():
    rng = np.random.default_rng(3)
    rows = clustered_days(rng, 30, 300, icc=0.4)
    days = rows["day"].to_numpy()
    shares = rows["c"].value_counts(normalize=True)
    expected = sum(
        (1 - shares[c]) * icc_from_scipy((rows["c"] == c).to_numpy(float), days) for c in ("a", "b")
    )
    ours = drift.category_icc(rows["c"], days, ["a", "b"], alpha=0.01)
    assert ours == pytest.approx(expected, rel=1e-9)
    assert ours > 0


def test_corrected_chi_square_and_ks_match_scipy_on_effective_sizes():
    ref, cur = np.array([500, 300, 200]), np.array([40, 30, 50])
    stat, _, dof, _ = chi2_contingency(np.vstack([ref, cur]), correction=False)
    corrected, p = drift.chi2_homogeneity(ref, cur, design_effect=4.0)
    assert corrected == pytest.approx(stat / 4.0, rel=1e-12)
    assert p == pytest.approx(chi2.sf(stat / 4.0, dof), rel=1e-12)
    # KS on fractional effective sizes: scipy's exact-n distribution at the rounded size.
    assert drift.ks_pvalue(0.4, 37.5, 2.5) == pytest.approx(
        kstwo.sf(0.4, round(37.5 * 2.5 / 40)), rel=1e-12
    )
    assert drift.ks_pvalue(0.99, 30.0, 0.5) == pytest.approx(kstwo.sf(0.99, 1), rel=1e-12)


def test_clustered_mean_test_is_a_z_test_on_effective_sizes():
    from scipy.stats import norm

    z, p = drift.clustered_mean_test(10.5, 10.0, 2.0, n_reference=40.0, n_current=1.5)
    expected = 0.5 / (2.0 * np.sqrt(1 / 40 + 1 / 1.5))
    assert z == pytest.approx(expected, rel=1e-12)
    assert p == pytest.approx(2 * norm.sf(expected), rel=1e-12)


def test_design_effects_of_a_two_sample_comparison():
    d_ref, d_cur, pair = drift.two_sample_design_effect(3000, 100, 0.1, reference_days=30)
    assert d_ref == pytest.approx(1 + 99 * 0.1)
    assert d_cur == pytest.approx(1 + 99 * 0.1)
    assert pair == pytest.approx((d_ref / 3000 + d_cur / 100) / (1 / 3000 + 1 / 100))
    assert drift.two_sample_design_effect(3000, 100, 0.0, 30) == (1.0, 1.0, 1.0)


def profile_of(rows: pd.DataFrame, day_column: str | None) -> dict:
    # A spec whose only features are the synthetic columns x and c.
    spec = dataclasses.replace(active_spec(), numeric_features=("x",), categorical_features=("c",))
    profile = drift.build_reference_profile(rows, day_column=day_column, spec=spec)
    return drift.prepare_profile(profile)


def test_clustered_days_calm_days_are_not_flagged_but_a_large_shift_is():
    rng = np.random.default_rng(4)
    reference = clustered_days(rng, 30, 600, icc=0.5)
    calm = clustered_days(rng, 40, 600, icc=0.5)
    independent, clustered = profile_of(reference, None), profile_of(reference, "day")
    assert "icc" not in independent["numeric"]["x"]
    assert clustered["numeric"]["x"]["icc"] > 0.3
    rules = drift.DriftRules()
    flags = {"independent": 0, "clustered": 0}
    for day, rows in calm.groupby("day"):
        flags["independent"] += drift.compute_drift(rows, independent, day, rules).dataset_drift
        flags["clustered"] += drift.compute_drift(rows, clustered, day, rules).dataset_drift
    # Rows taken as independent: most ordinary days look like drift (here about 90 %).
    assert flags["independent"] >= 30, flags
    # One day is about one observation of the day effect: at most a few false alarms.
    assert flags["clustered"] <= 2, flags
    # A day 5 between-day SDs away from anything in the reference is still drift.
    shifted = clustered_days(rng, 1, 600, icc=0.5, shift=5 * np.sqrt(0.5))
    outcome = drift.compute_drift(shifted, clustered, START, rules)
    assert "x" in outcome.drifted_features, outcome.reasons
    assert "effective rows" in outcome.report.set_index("feature").loc["x", "reason"]


def test_without_the_date_column_the_decision_is_unchanged():
    rng = np.random.default_rng(5)
    reference = clustered_days(rng, 20, 400, icc=0.0)
    day = clustered_days(rng, 1, 400, icc=0.0, shift=0.1)
    plain = profile_of(reference, None)
    with_zero_icc = {
        **plain,
        "numeric": {"x": {**plain["numeric"]["x"], "icc": 0.0}},
        "categorical": {"c": {**plain["categorical"]["c"], "icc": 0.0}},
        "n_days": 20,
    }
    a = drift.compute_drift(day, plain, START, drift.DriftRules()).report
    b = drift.compute_drift(day, with_zero_icc, START, drift.DriftRules()).report
    pd.testing.assert_frame_equal(a, b)


def test_null_rate_rule_with_nulls_in_whole_days():
    from scipy.stats import norm

    rng = np.random.default_rng(6)
    reference = clustered_days(rng, 30, 400, icc=0.0)
    # A reading missing for whole days: 6 of the 30 reference days have no value at all.
    missing_days = reference["day"].isin(reference["day"].unique()[::5])
    reference.loc[missing_days, "x"] = np.nan
    profile = profile_of(reference, "day")
    entry = profile["numeric"]["x"]
    assert entry["null_icc"] > 0.9 and entry["icc"] == 0.0
    rules = drift.DriftRules()
    # Another day without the reading: the null rate jumps from 0.2 to 1, as on 6 of the 30
    # reference days, which is not a data-quality alarm.
    day = clustered_days(rng, 1, 400, icc=0.0).assign(x=np.nan)
    outcome = drift.compute_drift(day, profile, START, rules)
    assert "x" not in outcome.drifted_features, outcome.reasons
    # The p-value is the z test of the null indicator on the effective sizes.
    ref = {**entry, "_n_rows": len(reference), "_n_days": 30}
    p_ref, icc = entry["null_rate"], entry["null_icc"]
    d_ref = 1 + (len(reference) / 30 - 1) * icc
    d_cur = 1 + (len(day) - 1) * icc
    z = (1.0 - p_ref) / (
        np.sqrt(p_ref * (1 - p_ref)) * np.sqrt(d_ref / len(reference) + d_cur / len(day))
    )
    assert drift.null_rate_p_value(ref, 1.0, len(day)) == pytest.approx(2 * norm.sf(z), rel=1e-9)
    # Without the date column the rule fires on the change alone, as before.
    plain = profile_of(reference, None)
    assert "x" in drift.compute_drift(day, plain, START, rules).drifted_features
