"""Performance drift: the realised AUC of labelled days against the champion's baseline."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance, build_sensor_context
from sklearn.metrics import roc_auc_score

from ml_assets.definitions import defs, retrain_job
from ml_assets.evaluation import roc_auc
from ml_assets.features import build_customer_features
from ml_assets.modelling import ModelParams, predict_from_features, train_churn_model
from ml_assets.performance import PerformanceRules, performance_drift
from ml_assets.sensors import build_drift_sensor
from ml_assets_examples.churn import generator

START = dt.date(2025, 1, 1)
RULES = PerformanceRules()


def features(config, days):
    frames = [
        build_customer_features(generator.generate_day(config, START + dt.timedelta(d))[0])
        for d in days
    ]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def concept_model():
    config = generator.GeneratorConfig(
        start=START,
        days=20,
        rows_per_day=2000,
        seed=5,
        scenario="concept",
        drift_start=START + dt.timedelta(12),
        drift_magnitude=1.0,
    )
    train = features(config, range(8))
    train = train[train["churned"].notna()]
    model = train_churn_model(train, ModelParams(max_iter=80), cv_folds=2)
    holdout = features(config, [9])
    baseline = roc_auc(
        holdout["churned"].dropna().astype(int).to_numpy(),
        predict_from_features(model.pipeline, holdout[holdout["churned"].notna()]),
    )
    return config, model, baseline


def day_check(config, model, baseline, day):
    rows = features(config, [day])
    y = rows["churned"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return performance_drift(y, predict_from_features(model.pipeline, rows), baseline, RULES), rows


def test_calm_labelled_day_is_not_performance_drift(concept_model):
    config, model, baseline = concept_model
    result, rows = day_check(config, model, baseline, 10)
    labelled = rows["churned"].notna()
    expected = roc_auc_score(
        rows.loc[labelled, "churned"].astype(int),
        predict_from_features(model.pipeline, rows[labelled]),
    )
    assert result["realised_auc"] == pytest.approx(expected, abs=1e-12)
    assert not result["drifted"] and "not significantly below" in result["reason"]


def test_concept_drift_is_caught_by_labels(concept_model):
    config, model, baseline = concept_model
    result, _ = day_check(config, model, baseline, 14)
    assert result["drifted"], result["reason"]
    assert result["realised_auc"] < baseline - RULES.margin


def test_too_few_labels_or_no_baseline_give_no_decision():
    y = np.array([1.0, 0.0, np.nan] * 20)
    p = np.linspace(0, 1, 60)
    assert "too few labelled rows" in performance_drift(y, p, 0.8, RULES)["reason"]
    assert "no baseline" in performance_drift(y, p, None, RULES)["reason"]


def test_drift_sensor_retrains_on_performance_drift():
    with DagsterInstance.ephemeral() as instance:
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=AssetKey(["scoring", "churn_predictions"]),
                partition="2025-01-15",
                metadata={"performance_drift": True, "realised_auc": 0.61},
            )
        )
        sensor_def = build_drift_sensor(retrain_job)
        context = build_sensor_context(
            instance=instance, cursor=None, repository_def=defs.get_repository_def()
        )
        runs = sensor_def.evaluate_tick(context).run_requests
    assert len(runs) == 1
    assert runs[0].tags["ml_assets/drifted_features"] == "realised_auc"
    assert runs[0].tags["ml_assets/drift_partition"] == "2025-01-15"
