"""Batch scoring of feature rows with a registered pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ml_assets.modelling import predict_from_features
from ml_assets.registry import ModelRef

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


def score_features(pipeline: Pipeline, features: pd.DataFrame, ref: ModelRef) -> pd.DataFrame:
    """The ``scoring.churn_predictions`` rows for feature rows scored by one model version."""
    proba = predict_from_features(pipeline, features)
    return pd.DataFrame(
        {
            "customer_id": features["customer_id"].astype(str).to_numpy(),
            "snapshot_date": pd.to_datetime(features["snapshot_date"]).to_numpy(),
            "churn_probability": proba,
            "predicted_churn": (proba >= ref.threshold).astype("int64"),
            "threshold": float(ref.threshold),
            "model_version": int(ref.version),
        }
    )
