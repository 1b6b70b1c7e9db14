"""Tests of ml_assets.drift: PSI and bins against numpy, and decisions on generated days.

The statistics themselves are checked against scipy in test_drift_stats.py; here the
decision rule is: no drift on same-distribution days at 1,000 and 100,000 rows, real shifts
flagged, a tiny shift at 100,000 rows left alone although a p-value alone would flag it.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp, wasserstein_distance

from ml_assets import drift
from ml_assets.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, build_customer_features
from ml_assets.schemas import DriftReport
from ml_assets_examples.churn.generator import GeneratorConfig, generate_day

START = dt.date(2025, 1, 1)
DRIFT_DAY = START + dt.timedelta(days=20)
SEED = 5
ROWS = 1000


def reference_psi(ref, cur, eps):
    """PSI written out bin by bin, with each proportion floored at eps."""
    total = 0.0
    for r, c in zip(ref, cur, strict=True):
        r, c = max(r, eps), max(c, eps)
        total += (c - r) * math.log(c / r)
    return total


def reference_bin_counts(values, edges):
    """Counts per bin (-inf, e0), [e0, e1), ..., [ek, inf) with explicit comparisons."""
    values = values[~np.isnan(values)]
    bounds = [-np.inf, *edges, np.inf]
    return np.array(
        [
            np.count_nonzero((values >= lo) & (values < hi))
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    )


# --------------------------------------------------------------------------- PSI and bins


@pytest.mark.parametrize("seed", range(6))
def test_psi_equals_direct_computation(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 12))
    ref = rng.dirichlet(np.ones(k))
    cur = rng.dirichlet(np.ones(k))
    cur[rng.integers(k)] = 0.0  # an empty bin exercises the epsilon floor
    assert drift.psi(ref, cur) == pytest.approx(
        reference_psi(ref, cur, drift.PSI_EPSILON), rel=1e-12
    )


def test_psi_is_zero_for_identical_shares_and_finite_for_empty_bins():
    shares = np.array([0.2, 0.3, 0.5])
    assert drift.psi(shares, shares) == 0.0
    empty_bin = drift.psi(np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5]))
    assert math.isfinite(empty_bin)
    eps = drift.PSI_EPSILON
    assert empty_bin == pytest.approx(2 * (0.5 - eps) * math.log(0.5 / eps), rel=1e-12)


def test_psi_epsilon_argument_is_used():
    ref, cur = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert drift.psi(ref, cur, epsilon=1e-2) == pytest.approx(reference_psi(ref, cur, 1e-2))
    assert drift.psi(ref, cur, epsilon=1e-6) > drift.psi(ref, cur, epsilon=1e-2)


def test_numeric_bin_edges_are_reference_quantiles():
    rng = np.random.default_rng(3)
    values = rng.normal(50, 10, 2000)
    values[::17] = np.nan
    edges = drift.numeric_bin_edges(values, 10)
    expected = pd.Series(values).quantile([i / 10 for i in range(1, 10)]).to_numpy()
    np.testing.assert_allclose(edges, expected, rtol=1e-12)


def test_numeric_bin_edges_drop_duplicate_quantiles_and_handle_all_null():
    # 100 values: the deciles sit at positions 9.9, 19.8, ..., 89.1 of the sorted values,
    # so deciles 1-5 are 0, 6-8 are 1 and 9 is 5.
    values = np.array([0.0] * 55 + [1.0] * 30 + [5.0] * 15)
    np.testing.assert_array_equal(drift.numeric_bin_edges(values, 10), [0.0, 1.0, 5.0])
    assert drift.numeric_bin_edges(np.array([np.nan, np.nan]), 10).size == 0


@pytest.mark.parametrize("seed", range(4))
def test_numeric_bin_shares_follow_the_documented_bins(seed):
    rng = np.random.default_rng(seed)
    ref = np.round(rng.gamma(2.0, 10.0, 500), 0)  # integer-valued: many values sit on edges
    edges = drift.numeric_bin_edges(ref, 10)
    cur = np.r_[np.round(rng.gamma(2.5, 10.0, 300), 0), edges, [np.nan] * 7]
    shares = drift.numeric_bin_shares(cur, edges)
    counts = reference_bin_counts(cur, edges)
    assert shares.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(shares, counts / counts.sum(), rtol=1e-12)


def test_value_on_an_edge_belongs_to_the_bin_that_starts_there():
    edges = np.array([1.0, 2.0])
    shares = drift.numeric_bin_shares(np.array([0.5, 1.0, 2.0, 2.0]), edges)
    np.testing.assert_allclose(shares, [0.25, 0.25, 0.5])


def test_numeric_bin_shares_without_values_are_zero():
    shares = drift.numeric_bin_shares(np.array([np.nan]), np.array([1.0, 2.0]))
    np.testing.assert_array_equal(shares, [0.0, 0.0, 0.0])


def test_category_shares_count_unseen_and_ignore_nulls():
    values = pd.Series(["a", "b", "a", None, "z", np.nan, "y", "a"])
    shares = drift.category_shares(values, ["a", "b", "c"])
    # Six non-null values: a=3, b=1, c=0, unseen (z, y)=2.
    np.testing.assert_allclose(shares, np.array([3, 1, 0, 2]) / 6)
    np.testing.assert_array_equal(drift.category_shares(pd.Series([None]), ["a"]), [0.0, 0.0])


# --------------------------------------------------------------------------- generated days


def features_of(config, days):
    frames = [generate_day(config, START + dt.timedelta(days=i))[0] for i in days]
    return build_customer_features(pd.concat(frames, ignore_index=True))


@pytest.fixture(scope="module")
def reference():
    return features_of(GeneratorConfig(start=START, rows_per_day=ROWS, seed=SEED), range(10))


@pytest.fixture(scope="module")
def profile(reference):
    # The caller stores the profile as JSON with the model version; do the same round trip.
    built = drift.build_reference_profile(reference, model_version=None)
    return json.loads(json.dumps({**built, "model_version": 4}))


def day_features(**scenario):
    config = GeneratorConfig(
        start=START,
        rows_per_day=ROWS,
        seed=SEED,
        drift_start=DRIFT_DAY if scenario else None,
        **scenario,
    )
    return features_of(config, [(DRIFT_DAY - START).days])


def test_reference_profile_contents(reference):
    rules = drift.DriftRules()
    profile = drift.build_reference_profile(reference, rules, model_version=2)
    assert profile["n_rows"] == len(reference) == 10 * ROWS
    assert profile["model_version"] == 2
    assert set(profile["numeric"]) == set(NUMERIC_FEATURES)
    assert set(profile["categorical"]) == set(CATEGORICAL_FEATURES)
    for col, entry in profile["numeric"].items():
        series = reference[col].astype("float64")
        assert entry["null_rate"] == pytest.approx(series.isna().mean())
        assert entry["mean"] == pytest.approx(series.mean())
        assert entry["std"] == pytest.approx(series.std(ddof=0))
        assert sum(entry["shares"]) == pytest.approx(1.0)
        assert len(entry["shares"]) == len(entry["edges"]) + 1
        counts = reference_bin_counts(series.to_numpy(), np.array(entry["edges"]))
        np.testing.assert_allclose(entry["shares"], counts / counts.sum())
        np.testing.assert_array_equal(entry["counts"], counts)
        assert entry["n_non_null"] == series.notna().sum()
        # The reference sample: sorted distinct reference values, capped at the rule's size.
        sample = np.array(entry["sample_values"])
        assert np.all(np.diff(sample) > 0) and np.isin(sample, series.dropna()).all()
        assert sum(entry["sample_counts"]) == min(rules.reference_sample_size, entry["n_non_null"])
        assert entry["discrete"] == (series.nunique() <= rules.quantile_bins)
    assert profile["numeric"]["avg_session_minutes"]["null_rate"] > 0  # generator has nulls
    assert profile["numeric"]["auto_renew"]["discrete"]
    assert not profile["numeric"]["monthly_charges"]["discrete"]
    for col, entry in profile["categorical"].items():
        assert entry["categories"] == sorted(reference[col].unique())
        expected = reference[col].value_counts(normalize=True)[entry["categories"]]
        np.testing.assert_allclose(entry["shares"], [*expected, 0.0])
        counts = reference[col].value_counts()[entry["categories"]]
        assert entry["counts"] == [*counts.tolist(), 0]
        assert entry["null_rate"] == 0.0


def test_same_distribution_day_does_not_drift(profile):
    outcome = drift.compute_drift(day_features(), profile, DRIFT_DAY, drift.DriftRules())
    assert outcome.dataset_drift is False
    assert outcome.drifted_features == []
    assert outcome.report["psi"].max() < 0.1


def test_covariate_shift_in_monthly_charges_drifts_that_feature(profile):
    current = day_features(
        scenario="covariate", drift_columns=("monthly_charges",), drift_magnitude=1.0
    )
    outcome = drift.compute_drift(current, profile, DRIFT_DAY, drift.DriftRules())
    report = outcome.report.set_index("feature")
    assert outcome.dataset_drift is True
    assert "monthly_charges" in outcome.drifted_features
    assert report.loc["monthly_charges", "psi"] >= 0.2
    reason = report.loc["monthly_charges", "reason"]
    assert "Wasserstein" in reason and "KS p_adj" in reason
    # Independent checks of the gate's numbers: W1 in reference SDs, and the KS p-value.
    ref = profile["numeric"]["monthly_charges"]
    sample = np.repeat(ref["sample_values"], ref["sample_counts"])
    assert report.loc["monthly_charges", "effect_size"] == pytest.approx(
        wasserstein_distance(sample, current["monthly_charges"]) / ref["std"]
    )
    assert report.loc["monthly_charges", "effect_size"] == pytest.approx(1.0, abs=0.1)
    assert report.loc["monthly_charges", "p_value"] == pytest.approx(
        ks_2samp(sample, current["monthly_charges"], method="asymp").pvalue, abs=1e-300
    )
    # Independent check of the reported PSI from the profile's own bins.
    counts = reference_bin_counts(current["monthly_charges"].to_numpy(), np.array(ref["edges"]))
    assert report.loc["monthly_charges", "psi"] == pytest.approx(
        reference_psi(ref["shares"], counts / counts.sum(), drift.PSI_EPSILON)
    )
    others = report.drop(index="monthly_charges")
    assert others["drifted"].sum() <= 1


def test_null_spike_drifts_via_null_rate(profile):
    current = day_features(
        scenario="null_spike", drift_columns=("avg_session_minutes",), drift_magnitude=0.5
    )
    outcome = drift.compute_drift(current, profile, DRIFT_DAY, drift.DriftRules())
    row = outcome.report.set_index("feature").loc["avg_session_minutes"]
    assert outcome.dataset_drift is True
    assert "avg_session_minutes" in outcome.drifted_features
    assert row["psi"] < 0.2  # the non-null values keep their distribution ...
    assert row["null_rate_current"] == pytest.approx(current["avg_session_minutes"].isna().mean())
    assert row["null_rate_current"] - row["null_rate_reference"] >= 0.1
    assert "null rate" in row["reason"]


def test_unseen_category_drifts(profile):
    current = day_features()
    current.loc[current.index[:100], "region"] = "atlantis"
    row = drift.compute_drift(current, profile, DRIFT_DAY, drift.DriftRules()).report
    row = row.set_index("feature").loc["region"]
    assert row["unseen_share"] == pytest.approx(0.1)
    assert row["drifted"] and "unseen" in row["reason"]


def test_too_few_rows_give_no_decision(profile):
    current = day_features(
        scenario="covariate", drift_columns=("monthly_charges",), drift_magnitude=1.0
    ).head(50)
    outcome = drift.compute_drift(current, profile, DRIFT_DAY, drift.DriftRules(min_rows=100))
    report = outcome.report.set_index("feature")
    # The statistics are still reported (the shift is plain to see) ...
    assert report.loc["monthly_charges", "effect_size"] > 0.5
    # ... but the day gets no decision: no feature drifted, no dataset drift, and why.
    assert outcome.decided is False and outcome.dataset_drift is False
    assert outcome.drifted_features == [] and not report["drifted"].any()
    assert outcome.reasons == ["too few rows to decide: 50 rows, below the minimum 100"]
    assert report["reason"].str.startswith("too few rows to decide (50 < 100)").all()
    DriftReport.validate(outcome.report)


def test_min_drifted_features_rule(profile):
    current = day_features(
        scenario="covariate", drift_columns=("monthly_charges",), drift_magnitude=1.0
    )
    rules = drift.DriftRules(min_drifted_features=5)
    assert drift.compute_drift(current, profile, DRIFT_DAY, rules).dataset_drift is False


def test_report_fits_the_drift_report_schema(profile):
    """Two days' reports, concatenated as the asset does, validate against DriftReport."""
    reports = []
    for day, current in [
        (DRIFT_DAY, day_features()),
        (
            DRIFT_DAY + dt.timedelta(days=1),
            day_features(scenario="null_spike", drift_columns=("avg_session_minutes",)),
        ),
    ]:
        report = drift.compute_drift(current, profile, pd.Timestamp(day), drift.DriftRules())
        report = report.report
        assert list(report.columns) == list(DriftReport.to_schema().columns)
        assert (report["snapshot_date"] == pd.Timestamp(day)).all()
        assert (report["reference_model_version"] == 4).all()
        assert (report["n_reference"] == 10 * ROWS).all()
        assert (report["n_current"] == ROWS).all()
        reports.append(report)
    validated = DriftReport.validate(pd.concat(reports, ignore_index=True))
    assert len(validated) == 2 * (len(NUMERIC_FEATURES) + len(CATEGORICAL_FEATURES))


def test_binary_feature_shift_is_detected(profile):
    current = day_features()
    current["is_new_customer"] = 1  # from ~1% new customers to 100%
    report = drift.compute_drift(current, profile, DRIFT_DAY, drift.DriftRules()).report
    assert report.set_index("feature").loc["is_new_customer", "drifted"]


# --------------------------------------------------------------------------- the decision rule


def test_same_distribution_days_do_not_drift_at_1000_rows(profile):
    config = GeneratorConfig(start=START, rows_per_day=ROWS, seed=SEED)
    for i in range(10, 17):  # the week after the 10-day reference window
        outcome = drift.compute_drift(
            features_of(config, [i]), profile, START + dt.timedelta(days=i), drift.DriftRules()
        )
        assert outcome.decided and outcome.dataset_drift is False, outcome.reasons


def test_half_sd_shift_is_flagged_at_1000_rows(profile):
    current = day_features(
        scenario="covariate", drift_columns=("monthly_charges",), drift_magnitude=0.5
    )
    outcome = drift.compute_drift(current, profile, DRIFT_DAY, drift.DriftRules())
    row = outcome.report.set_index("feature").loc["monthly_charges"]
    assert outcome.dataset_drift and outcome.drifted_features == ["monthly_charges"]
    assert row["effect_size"] == pytest.approx(0.5, abs=0.1)
    assert row["p_value_adjusted"] <= 0.01 and row["reason"].startswith("Wasserstein")


def test_category_mix_is_flagged_by_js_distance_and_chi_square(profile):
    current = day_features(
        scenario="category_mix", drift_columns=("contract",), drift_magnitude=0.3
    )
    outcome = drift.compute_drift(current, profile, DRIFT_DAY, drift.DriftRules())
    row = outcome.report.set_index("feature").loc["contract"]
    assert outcome.drifted_features == ["contract"]
    assert row["test"] == "chi2" and row["effect_size"] >= 0.02
    assert "JS distance" in row["reason"] and "chi-square" in row["reason"]


def test_effect_floor_and_alpha_are_both_required(profile):
    current = day_features(
        scenario="covariate", drift_columns=("monthly_charges",), drift_magnitude=0.5
    )

    def row(rules):
        report = drift.compute_drift(current, profile, DRIFT_DAY, rules).report
        return report.set_index("feature").loc["monthly_charges"]

    high_floor = row(drift.DriftRules(min_shift_sd=2.0))
    assert not high_floor["drifted"] and "too small to matter" in high_floor["reason"]
    tiny_alpha = row(drift.DriftRules(alpha=1e-300))
    assert not tiny_alpha["drifted"] and "not distinguishable from noise" in tiny_alpha["reason"]


# --------------------------------------------------------------------------- 100,000 rows a day

BIG = 100_000


@pytest.fixture(scope="module")
def big():
    """A 300k-row reference (days 0, 3, 6 at 100k rows) and day 9: calm, +0.02 SD, +0.1 SD."""
    base = GeneratorConfig(start=START, rows_per_day=BIG, seed=SEED)
    reference = features_of(base, [0, 3, 6])
    day9 = START + dt.timedelta(days=9)

    def shifted(k):
        return GeneratorConfig(
            start=START,
            rows_per_day=BIG,
            seed=SEED,
            scenario="covariate",
            drift_start=day9,
            drift_columns=("monthly_charges",),
            drift_magnitude=k,
        )

    days = {
        "calm": features_of(base, [9]),
        "0.02": features_of(shifted(0.02), [9]),
        "0.1": features_of(shifted(0.1), [9]),
    }
    profile = drift.prepare_profile(drift.build_reference_profile(reference, model_version=1))
    full = drift.prepare_profile(
        drift.build_reference_profile(
            reference, drift.DriftRules(reference_sample_size=None), model_version=1
        )
    )
    return reference, days, profile, full


def test_no_drift_at_100000_rows(big):
    _, days, profile, _ = big
    outcome = drift.compute_drift(days["calm"], profile, START, drift.DriftRules())
    assert outcome.dataset_drift is False, outcome.reasons
    assert outcome.report["effect_size"].max() < 0.05


def test_tiny_shift_at_100000_rows_is_not_flagged_although_a_p_value_alone_would(big):
    reference, days, profile, full = big
    current = days["0.02"]
    # What a KS monitor does: the whole reference, p < 0.05.
    assert (
        ks_2samp(reference["monthly_charges"], current["monthly_charges"], method="asymp").pvalue
        < 1e-6
    )
    for prof in (profile, full):
        outcome = drift.compute_drift(current, prof, START, drift.DriftRules())
        assert outcome.dataset_drift is False and outcome.drifted_features == []
    # Against the whole reference our own test is as significant -- the effect floor is
    # what stops it, and the reason says so.
    row = (
        drift.compute_drift(current, full, START, drift.DriftRules())
        .report.set_index("feature")
        .loc["monthly_charges"]
    )
    assert row["p_value_adjusted"] < 1e-6
    assert row["effect_size"] == pytest.approx(0.02, abs=0.01)
    assert "below the floor" in row["reason"] and "too small to matter" in row["reason"]


def test_tenth_sd_shift_at_100000_rows_is_flagged(big):
    _, days, profile, _ = big
    outcome = drift.compute_drift(days["0.1"], profile, START, drift.DriftRules())
    assert outcome.drifted_features == ["monthly_charges"]
    row = outcome.report.set_index("feature").loc["monthly_charges"]
    assert row["effect_size"] == pytest.approx(0.1, abs=0.02)


# --------------------------------------------------------------------------- profile, config


def test_profile_of_30000_rows_stays_small_as_json():
    config = GeneratorConfig(start=START, rows_per_day=ROWS, seed=SEED)
    profile = drift.build_reference_profile(features_of(config, range(30)), model_version=1)
    size = len(json.dumps(profile))
    assert size < 2_000_000, size
    assert json.loads(json.dumps(profile)) == profile  # plain JSON types only


def test_format_1_profile_of_an_older_champion_still_works(profile):
    old = json.loads(json.dumps(profile))
    old["format"] = 1
    for entry in [*old["numeric"].values(), *old["categorical"].values()]:
        for key in ("counts", "n_non_null", "discrete", "sample_values", "sample_counts"):
            entry.pop(key, None)
    calm = drift.compute_drift(day_features(), old, DRIFT_DAY, drift.DriftRules())
    assert calm.dataset_drift is False
    current = day_features(
        scenario="covariate", drift_columns=("monthly_charges",), drift_magnitude=1.0
    )
    outcome = drift.compute_drift(current, old, DRIFT_DAY, drift.DriftRules())
    row = outcome.report.set_index("feature").loc["monthly_charges"]
    assert outcome.drifted_features == ["monthly_charges"]
    assert row["test"] == "chi2" and "JS distance" in row["reason"]
    DriftReport.validate(
        pd.concat(
            [
                calm.report,
                outcome.report.assign(snapshot_date=pd.Timestamp(DRIFT_DAY + dt.timedelta(days=1))),
            ]
        )
    )


def test_drift_config_mirrors_the_decision_rules():
    import dataclasses

    from ml_assets.assets.monitoring import DriftConfig

    rules = {
        f.name: f.default
        for f in dataclasses.fields(drift.DriftRules)
        if f.name not in drift.PROFILE_FIELDS
    }
    config = DriftConfig()
    assert config.model_dump() == rules
    assert all(f.description for f in DriftConfig.model_fields.values())
    assert drift.DriftRules(**config.model_dump()) == drift.DriftRules()


def test_all_null_column_is_not_tested_but_drifts_by_its_null_rate(profile):
    current = day_features()
    current["avg_session_minutes"] = np.nan
    outcome = drift.compute_drift(current, profile, DRIFT_DAY, drift.DriftRules())
    row = outcome.report.set_index("feature").loc["avg_session_minutes"]
    assert row["test"] is None and np.isnan(row["p_value"]) and np.isnan(row["effect_size"])
    assert row["drifted"] and row["reason"].startswith("null rate")
    # The untested feature does not count in the day's correction.
    tested = outcome.report["p_value"].notna()
    assert tested.sum() == len(outcome.report) - 1
    DriftReport.validate(outcome.report)
