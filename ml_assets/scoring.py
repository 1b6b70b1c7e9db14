"""Batch scoring of feature rows with a registered pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ml_assets.dataset import DatasetSpec, active_spec
from ml_assets.modelling import predict_from_features
from ml_assets.registry import ModelRef

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


def score_features(
    pipeline: Pipeline, features: pd.DataFrame, ref: ModelRef, spec: DatasetSpec | None = None
) -> pd.DataFrame:
    """The predictions-table rows for feature rows scored by one model version: id, date,
    ``<name>_probability``, ``predicted_<name>``, threshold and model version."""
    spec = spec if spec is not None else active_spec()
    names = spec.names
    proba = predict_from_features(pipeline, features)
    return pd.DataFrame(
        {
            spec.id_column: features[spec.id_column].astype(str).to_numpy(),
            spec.date_column: pd.to_datetime(features[spec.date_column]).to_numpy(),
            names.probability_column: proba,
            names.prediction_column: (proba >= ref.threshold).astype("int64"),
            "threshold": float(ref.threshold),
            "model_version": int(ref.version),
        }
    )
