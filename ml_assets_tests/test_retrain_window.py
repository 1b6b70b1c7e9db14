"""The training window of a drift retrain: from the drift day on, with a floor of rows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    build_sensor_context,
    validate_run_config,
)

from ml_assets import modelling as mdl
from ml_assets.decisions import retrain_run_config
from ml_assets.definitions import defs, retrain_job
from ml_assets.sensors import build_drift_sensor


def days_frame(rows_per_day: list[int]) -> pd.DataFrame:
    """Day d (1-based) holds rows_per_day[d-1] labelled rows and one unlabelled row."""
    rows = []
    for d, n in enumerate(rows_per_day, start=1):
        for c in range(n + 1):
            rows.append(
                {
                    "customer_id": f"C{c}",
                    "snapshot_date": pd.Timestamp(2025, 1, d),
                    "churned": c % 2 if c < n else pd.NA,
                }
            )
    frame = pd.DataFrame(rows)
    frame["churned"] = frame["churned"].astype("Int64")
    return frame.sample(frac=1.0, random_state=1)


def window_days(window: pd.DataFrame) -> list[int]:
    return sorted(window["snapshot_date"].dt.day.unique())


def test_since_drops_days_before_the_change():
    frame = days_frame([5, 5, 5, 5, 5, 5])
    window = mdl.select_training_window(frame, 30, since=dt.date(2025, 1, 4))
    assert window_days(window) == [4, 5, 6]
    assert len(window) == 15 and window["churned"].notna().all()
    # Without since: the usual most recent window_days.
    assert window_days(mdl.select_training_window(frame, 4)) == [3, 4, 5, 6]


def test_since_reaches_back_only_while_rows_are_too_few():
    frame = days_frame([5, 5, 5, 5, 5, 5])
    # Days 5-6 hold 10 labelled rows: 12 needs one earlier day, 10 none, 16 two.
    since = dt.date(2025, 1, 5)
    assert window_days(mdl.select_training_window(frame, 30, since, min_rows=10)) == [5, 6]
    assert window_days(mdl.select_training_window(frame, 30, since, min_rows=12)) == [4, 5, 6]
    assert window_days(mdl.select_training_window(frame, 30, since, min_rows=16)) == [3, 4, 5, 6]
    # Never beyond window_days, even when rows stay short.
    assert window_days(mdl.select_training_window(frame, 3, since, min_rows=1000)) == [4, 5, 6]


def test_since_after_the_last_labelled_day_is_refused_or_padded():
    frame = days_frame([5, 5, 5])
    with pytest.raises(ValueError, match="No labelled day on or after 2025-02-01"):
        mdl.select_training_window(frame, 30, since=dt.date(2025, 2, 1))
    # With a row floor the most recent days are kept instead.
    padded = mdl.select_training_window(frame, 30, since=dt.date(2025, 2, 1), min_rows=6)
    assert window_days(padded) == [2, 3]


def test_only_performance_drift_moves_the_window_start():
    # Input drift keeps the window; only the new model's drift reference starts at the day.
    assert retrain_run_config({"kind": "input", "partition": "2025-01-11"}) == {
        "ops": {"training__churn_model": {"config": {"reference_since": "2025-01-11"}}}
    }
    assert retrain_run_config({"kind": "performance", "partition": "2025-01-11"}) == {
        "ops": {"training__training_set": {"config": {"since": "2025-01-11"}}}
    }


def test_drift_sensor_requests_a_window_from_the_performance_drift_day():
    sensor = build_drift_sensor(retrain_job)
    with DagsterInstance.ephemeral() as instance:
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=AssetKey(["scoring", "churn_predictions"]),
                partition="2025-01-11",
                metadata={"performance_drift": True, "realised_auc": 0.61},
            )
        )
        data = sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=None))
        (request,) = data.run_requests
        assert request.tags["ml_assets/drift_kind"] == "performance"
        assert request.tags["ml_assets/drifted_features"] == "realised_auc"
        assert request.run_config == {
            "ops": {"training__training_set": {"config": {"since": "2025-01-11"}}}
        }
        # The config is valid for the real retrain_job (raises otherwise).
        validate_run_config(defs.resolve_job_def("retrain_job"), request.run_config)

        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=AssetKey(["monitoring", "drift_report"]),
                partition="2025-01-30",
                metadata={"dataset_drift": True, "drifted_features": ["monthly_charges"]},
            )
        )
        data = sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=data.cursor))
        (request,) = data.run_requests
        assert request.tags["ml_assets/drift_kind"] == "input"
        # Input drift: the usual window, and the new model's drift reference from the day on.
        assert request.run_config == {
            "ops": {"training__churn_model": {"config": {"reference_since": "2025-01-30"}}}
        }
        validate_run_config(defs.resolve_job_def("retrain_job"), request.run_config)
