"""registry/champion_model: the promotion gate and the MLflow alias `champion`."""

import json

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, Config, MetadataValue, asset
from pydantic import Field

from ml_assets import registry
from ml_assets.assets.common import CODE_VERSION, OWNERS
from ml_assets.evaluation import headline
from ml_assets.gate import GateRules, decide_promotion
from ml_assets.registry import ModelRef
from ml_assets.resources import MlflowResource


class GateConfig(Config):
    min_auc: float = Field(default=0.70, description="Absolute AUC floor for any champion.")
    max_brier: float = Field(default=0.20, description="Absolute Brier score ceiling.")
    auc_margin: float = Field(
        default=0.01, ge=0, description="How much lower than the champion's AUC is tolerated."
    )
    min_test_rows: int = Field(default=200, ge=1, description="Fewer test rows: no decision.")
    min_test_positives: int = Field(default=20, ge=1, description="Fewer positives: no decision.")


@asset(
    key=["registry", "champion_model"],
    group_name="registry",
    ins={"evaluation_report": AssetIn(key=["evaluation", "evaluation_report"])},
    io_manager_key="model_io_manager",
    metadata={"registry_ref": "champion"},
    kinds={"mlflow"},
    owners=OWNERS,
    code_version=CODE_VERSION,
    description=(
        "The promotion gate. The first model becomes champion if it passes the absolute "
        "floors; later a challenger replaces the champion (MLflow alias `champion`, the old "
        "one keeps `previous_champion`) only if its AUC on the same test rows is not worse "
        "than the champion's by more than the margin. The decision and its reasons are "
        "recorded here and as MLflow tags."
    ),
)
def champion_model(
    context: AssetExecutionContext,
    config: GateConfig,
    evaluation_report: pd.DataFrame,
    mlflow: MlflowResource,
) -> ModelRef | None:
    challenger_rows = evaluation_report[evaluation_report["role"] == "challenger"]
    if challenger_rows.empty:
        raise ValueError("evaluation.evaluation_report holds no challenger rows; "
                         "materialize evaluation/evaluation_report first.")
    challenger_version = int(challenger_rows["model_version"].iloc[0])
    overall = challenger_rows[challenger_rows["segment_column"] == "overall"].iloc[0]
    champion = mlflow.champion()
    champion_metrics = headline(evaluation_report, "champion") or None
    decision = decide_promotion(
        challenger_version=challenger_version,
        challenger=headline(evaluation_report, "challenger"),
        champion_version=champion.version if champion else None,
        champion=champion_metrics,
        n_test_rows=int(overall["n_rows"]),
        n_test_positives=int(overall["n_positives"]),
        rules=GateRules(**config.model_dump()),
    )
    tags = {
        "gate_decision": "promoted" if decision.promote else "refused",
        "gate_reasons": json.dumps(decision.reasons)[:4000],
        "gate_dagster_run_id": context.run.run_id,
    }
    if decision.promote:
        registry.promote(mlflow.tracking_uri, challenger_version, tags)
        context.log.info(f"Promoted churn_model version {challenger_version}: {decision.reasons}")
    else:
        registry.tag_version(mlflow.tracking_uri, challenger_version, tags)
        context.log.info(f"Kept the champion; version {challenger_version} refused: "
                         f"{decision.reasons}")
    current = mlflow.champion()
    context.add_output_metadata({
        "promoted": decision.promote,
        "challenger_version": challenger_version,
        "champion_version": current.version if current else 0,
        "previous_champion_version": champion.version if champion else 0,
        "reasons": MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons)),
    })
    return current
