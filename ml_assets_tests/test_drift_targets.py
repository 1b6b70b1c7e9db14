"""The issue's detection targets at 1,000 rows a day, and the performance-drift p-value.

The full scenario suite (hundreds of days, both sizes, Evidently beside it) is the benchmark
``make drift-eval``; these are the targets a change must not break, on a few generated days:
a 0.2 SD shift in a key feature is flagged within two days at 1,000 rows, and the same days
without the shift are not. The performance-drift p-value is recomputed with sklearn's AUC on
the very bootstrap resamples.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ml_assets import drift
from ml_assets.features import build_customer_features
from ml_assets.performance import PerformanceRules, performance_drift
from ml_assets.resampling import bootstrap_weights
from ml_assets_examples.churn.generator import GeneratorConfig, generate_day

START = dt.date(2025, 1, 1)
ONSET = 20
ROWS = 1000


def features_of(config: GeneratorConfig, index: int):
    return build_customer_features(generate_day(config, START + dt.timedelta(days=index))[0])


@pytest.fixture(scope="module")
def profiles():
    """Three independent customer bases (seeds), each with a 20-day training-window profile."""
    out = {}
    for seed in (21, 22, 23):
        base = GeneratorConfig(start=START, rows_per_day=ROWS, seed=seed)
        reference = pd.concat([features_of(base, i) for i in range(ONSET)], ignore_index=True)
        out[seed] = drift.prepare_profile(drift.build_reference_profile(reference, model_version=1))
    return out


@pytest.mark.parametrize("column", ["monthly_charges", "support_calls_30d"])
def test_fifth_sd_shift_in_a_key_feature_is_flagged_within_two_days_at_1000_rows(profiles, column):
    for seed, profile in profiles.items():
        shifted = GeneratorConfig(
            start=START,
            rows_per_day=ROWS,
            seed=seed,
            scenario="covariate",
            drift_start=START + dt.timedelta(ONSET),
            drift_columns=(column,),
            drift_magnitude=0.2,
        )
        calm = GeneratorConfig(start=START, rows_per_day=ROWS, seed=seed)
        flagged = []
        for index in (ONSET, ONSET + 1):
            day = START + dt.timedelta(days=index)
            outcome = drift.compute_drift(
                features_of(shifted, index), profile, day, drift.DriftRules()
            )
            flagged.append(column in outcome.drifted_features)
            # The same customers on the same day without the shift: no alarm.
            quiet = drift.compute_drift(features_of(calm, index), profile, day, drift.DriftRules())
            assert quiet.decided and not quiet.dataset_drift, (seed, quiet.reasons)
        assert any(flagged), f"seed {seed}: 0.2 SD in {column} not flagged within 2 days"


def test_performance_drift_p_value_equals_sklearn_on_the_same_resamples():
    rng = np.random.default_rng(3)
    n = 600
    y = (rng.random(n) < 0.25).astype(float)
    p = np.clip(0.25 + 0.35 * (y - 0.25) + rng.normal(0, 0.25, n), 0, 1)
    y_with_nulls = y.copy()
    y_with_nulls[rng.choice(n, 30, replace=False)] = np.nan
    rules = PerformanceRules(n_resamples=300, seed=9)
    baseline = 0.835  # floor 0.815, next to the realised AUC: the count decides
    result = performance_drift(y_with_nulls, p, baseline, rules)

    keep = ~np.isnan(y_with_nulls)
    yk, pk = y_with_nulls[keep].astype(int), p[keep]
    assert result["labelled_rows"] == keep.sum()
    assert result["realised_auc"] == pytest.approx(roc_auc_score(yk, pk), abs=1e-12)
    # The same resamples as row counts, i.e. sample weights for sklearn.
    weights = bootstrap_weights(len(yk), rules.n_resamples, rules.seed)
    boot = np.array([roc_auc_score(yk, pk, sample_weight=w) for w in weights])
    floor = baseline - rules.margin
    expected = (np.sum(boot >= floor) + 1) / (len(boot) + 1)
    assert result["p_value"] == pytest.approx(expected, abs=1e-12)
    assert result["drifted"] == (expected <= rules.alpha)
    low, high = np.quantile(boot, [0.025, 0.975])
    assert result["auc_ci_low"] == pytest.approx(low, abs=1e-9)
    assert result["auc_ci_high"] == pytest.approx(high, abs=1e-9)
