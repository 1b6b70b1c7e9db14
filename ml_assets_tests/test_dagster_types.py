"""The pandera Dagster types: a frame validated in the asset is not validated twice."""

from __future__ import annotations

import pandas as pd
from dagster import check_dagster_type
from pandera.api.pandas.container import DataFrameSchema

from ml_assets.assets.common import dagster_type
from ml_assets.schemas import ChurnPredictions


def predictions(probability: float = 0.4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "snapshot_date": pd.to_datetime(["2025-01-01", "2025-01-01"]),
            "churn_probability": [probability, 0.9],
            "predicted_churn": [0, 1],
            "threshold": [0.5, 0.5],
            "model_version": [3, 3],
        }
    )


def test_a_frame_validated_in_the_asset_is_not_validated_again(monkeypatch):
    validated = ChurnPredictions.validate(predictions())
    type_ = dagster_type(ChurnPredictions)

    def refuse(self, *args, **kwargs):
        raise AssertionError("validated a second time")

    monkeypatch.setattr(DataFrameSchema, "validate", refuse)
    assert check_dagster_type(type_, validated).success
    # A frame pandera has not seen does reach pandera.
    assert not check_dagster_type(type_, predictions()).success


def test_other_frames_are_validated_by_the_type():
    type_ = dagster_type(ChurnPredictions)
    assert check_dagster_type(type_, predictions()).success
    assert not check_dagster_type(type_, predictions(probability=1.5)).success
    # Marked as validated, then changed: the marker no longer vouches for it.
    changed = ChurnPredictions.validate(predictions())
    changed["extra"] = 1
    assert not check_dagster_type(type_, changed).success
    retyped = ChurnPredictions.validate(predictions())
    retyped["churn_probability"] = ["x", "y"]
    assert not check_dagster_type(type_, retyped).success
