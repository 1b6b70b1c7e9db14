"""monitoring/drift_report: each day's features against the champion's reference profile."""

from collections.abc import Iterator

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    Config,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from ml_assets import registry
from ml_assets.assets.common import (
    CODE_VERSION,
    OWNERS,
    dagster_type,
    daily_partitions,
    table_metadata,
)
from ml_assets.drift import DriftRules, compute_drift
from ml_assets.resources import MlflowResource
from ml_assets.schemas import DriftReport


class DriftConfig(Config):
    psi_threshold: float = Field(
        default=0.2, gt=0, description="PSI at or above this: the feature drifted."
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
    min_rows: int = Field(default=100, ge=1, description="Fewer rows in a day: no decision.")


@asset(
    key=["monitoring", "drift_report"],
    group_name="monitoring",
    ins={"customer_features": AssetIn(key=["features", "customer_features"])},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    output_required=False,
    dagster_type=dagster_type(DriftReport),
    metadata=table_metadata(DriftReport, partition_expr="snapshot_date"),
    kinds={"duckdb", "pandas"},
    owners=OWNERS,
    code_version=CODE_VERSION,
    description=(
        "Per-feature drift of the day against the reference profile saved with the current "
        "champion: PSI on the reference's quantile bins or categories, null-rate change and "
        "unseen categories. Metadata dataset_drift and drifted_features carry the day's "
        "decision; drift_sensor reads them to request a retrain."
    ),
)
def drift_report(
    context: AssetExecutionContext,
    config: DriftConfig,
    customer_features: pd.DataFrame,
    mlflow: MlflowResource,
) -> Iterator[Output[pd.DataFrame]]:
    champion = mlflow.champion()
    if champion is None:
        context.log.warning(
            "No champion model yet, so no reference profile: drift report skipped. Run "
            "retrain_job first."
        )
        return
    profile = registry.load_profile(mlflow.tracking_uri, champion)
    rules = DriftRules(**config.model_dump())
    reports, drifted, reasons, dataset_drift = [], set(), [], False
    for day, rows in customer_features.groupby("snapshot_date", sort=True):
        outcome = compute_drift(rows, profile, day, rules)
        reports.append(outcome.report)
        dataset_drift |= outcome.dataset_drift
        if outcome.dataset_drift:
            drifted.update(outcome.drifted_features)
        reasons.extend(f"{pd.Timestamp(day).date()}: {r}" for r in outcome.reasons)
    report = DriftReport.validate(pd.concat(reports, ignore_index=True))
    top = report.sort_values("psi", ascending=False).head(5)
    yield Output(
        report,
        metadata={
            "dataset_drift": dataset_drift,
            "drifted_features": sorted(drifted),
            "reference_model_version": champion.version,
            "max_psi": float(report["psi"].max()),
            "drifted_feature_count": len(drifted),
            "reasons": MetadataValue.md("\n".join(f"- {r}" for r in reasons)),
            "top_psi": MetadataValue.md(
                top[["feature", "psi", "drifted", "reason"]].to_markdown(index=False)
            ),
        },
    )
