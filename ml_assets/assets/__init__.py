"""The assets of a dataset, built from its spec (one factory per asset module)."""

from __future__ import annotations

from dagster import AssetsDefinition

from ml_assets.assets.common import Wiring


def build_assets(w: Wiring) -> list[AssetsDefinition]:
    """The eight assets of a dataset, keys from its names: raw, features, training set,
    model, evaluation, champion, predictions, drift report."""
    from ml_assets.assets.evaluation import build_evaluation_asset
    from ml_assets.assets.features import build_features_asset
    from ml_assets.assets.monitoring import build_drift_asset
    from ml_assets.assets.raw import build_raw_asset
    from ml_assets.assets.registry import build_champion_asset
    from ml_assets.assets.scoring import build_predictions_asset
    from ml_assets.assets.training import build_training_assets

    return [
        build_raw_asset(w),
        build_features_asset(w),
        *build_training_assets(w),
        build_evaluation_asset(w),
        build_champion_asset(w),
        build_predictions_asset(w),
        build_drift_asset(w),
    ]
