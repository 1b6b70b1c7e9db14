"""monitoring/drift_report: each day's features against the champion's reference profile."""

import sys
from collections.abc import Iterator

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, Config, Output, asset
from pydantic import Field

from ml_assets import drift, registry, steps
from ml_assets.assets.common import (
    DAILY_BACKFILL_POLICY,
    OWNERS,
    WAREHOUSE_POOL,
    Wiring,
    code_version,
    dagster_metadata,
    dagster_type,
    materialization_schema,
    table_metadata,
)
from ml_assets.drift import DriftRules, prepare_profile
from ml_assets.resources import MlflowResource

DRIFT_CODE_VERSION = code_version(sys.modules[__name__], steps.drift_days, drift)


class DriftConfig(Config):
    """The decision fields of :class:`ml_assets.drift.DriftRules`, editable in the Launchpad.

    A feature drifts when its effect size reaches the floor AND its Benjamini-Hochberg
    adjusted p-value is at most ``alpha``, or when a data-quality rule fires. The profile
    fields of DriftRules (``quantile_bins``, ``reference_sample_size``) are fixed when the
    champion is trained, so they are not offered here.
    """

    alpha: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="False discovery rate (Benjamini-Hochberg) across the day's features: a "
        "feature is significant when its adjusted p-value is at most this. On days without "
        "drift it bounds the share of days with any significant feature.",
    )
    min_shift_sd: float = Field(
        default=0.05,
        ge=0,
        description="Effect floor of numeric features: Wasserstein-1 distance between the "
        "day and the reference in reference standard deviations (a shift of k SD gives k).",
    )
    min_js_distance: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Effect floor of categorical features: Jensen-Shannon distance (base 2) "
        "of the category shares, unseen values as their own category.",
    )
    null_rate_delta: float = Field(
        default=0.10, gt=0, description="Absolute change of the null rate that counts as drift."
    )
    unseen_share: float = Field(
        default=0.05, gt=0, description="Share of unseen categories that counts as drift."
    )
    min_drifted_features: int = Field(
        default=1, ge=1, description="Drifted features needed for dataset drift."
    )
    min_rows: int = Field(
        default=100, ge=1, description="Fewer rows in a day: no decision (nothing drifts)."
    )


def build_drift_asset(w: Wiring) -> AssetsDefinition:
    model = w.models.drift

    @asset(
        key=w.key("drift"),
        group_name=w.group("drift"),
        ins={"features": AssetIn(key=w.key("features"))},
        partitions_def=w.partitions,
        backfill_policy=DAILY_BACKFILL_POLICY,
        pool=WAREHOUSE_POOL,
        output_required=False,
        dagster_type=dagster_type(model),
        metadata=table_metadata(model, partition_expr=w.spec.date_column),
        kinds={"duckdb", "pandas"},
        owners=OWNERS,
        code_version=code_version(DRIFT_CODE_VERSION, w.spec.path.read_text()),
        description=(
            "Per-feature drift of the day against the reference profile saved with the "
            "current champion (its training window, or the days of a new input regime after "
            "an input-drift retrain). A feature drifts when its effect size passes a floor "
            "(numeric: Wasserstein distance in reference SDs; categorical: Jensen-Shannon "
            "distance) AND its test (KS, or chi-square for categories and few-valued columns) "
            "is significant after the Benjamini-Hochberg correction, or when its null rate "
            "jumps or unseen categories appear; PSI is reported alongside. Days with too few "
            "rows get no decision. Metadata dataset_drift and drifted_features carry the "
            "decision; drift_sensor reads them to request a retrain."
        ),
    )
    def drift_report(
        context: AssetExecutionContext,
        config: DriftConfig,
        features: pd.DataFrame,
        mlflow: MlflowResource,
    ) -> Iterator[Output[pd.DataFrame]]:
        champion = mlflow.champion()
        if champion is None:
            context.log.warning(
                "No champion model yet, so no reference profile: drift report skipped. Run "
                "retrain_job first."
            )
            return
        # Lists to arrays once, not once per day of a partition range.
        profile = prepare_profile(registry.load_profile(mlflow.tracking_uri, champion))
        rules = DriftRules(**config.model_dump())
        result = steps.drift_days(features, profile, rules, champion.version, w.spec)
        # One materialization per day, each with its own decision, so drift_sensor never
        # sees a calm day as drifted because of its range.
        for day, metadata in result.per_day.items():
            context.add_asset_metadata(dagster_metadata(metadata), partition_key=day)
        yield Output(
            result.value,
            metadata={**dagster_metadata(result.metadata), **materialization_schema(model)},
        )

    return drift_report
