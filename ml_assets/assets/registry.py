"""registry/champion_model: the promotion gate and the MLflow alias `champion`."""

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetKey, Config, MetadataValue, asset
from pydantic import Field

from ml_assets import lineage, promotion, registry
from ml_assets.assets.common import CODE_VERSION, OWNERS
from ml_assets.evaluation import headline, segment_frame
from ml_assets.features import SERVING_COLUMNS, features_to_landing_rows
from ml_assets.gate import GateRules, decide_promotion, paired_auc_difference, segment_comparisons
from ml_assets.modelling import predict_from_features
from ml_assets.registry import ModelRef
from ml_assets.resources import MlflowResource, WarehouseResource

SMOKE_ROWS = 50


class GateConfig(Config):
    min_auc: float = Field(default=0.70, description="Absolute AUC floor for any champion.")
    max_brier: float = Field(default=0.20, description="Absolute Brier score ceiling.")
    auc_margin: float = Field(
        default=0.01, ge=0, description="Non-inferiority margin on the AUC difference."
    )
    confidence: float = Field(
        default=0.95, gt=0.5, lt=1, description="One-sided confidence of the non-inferiority test."
    )
    segment_alpha: float = Field(
        default=0.05, gt=0, lt=1, description="Family-wise level for 'a segment got worse' (Holm)."
    )
    min_test_rows: int = Field(default=200, ge=1, description="Fewer test rows: no promotion.")
    min_test_positives: int = Field(default=20, ge=1, description="Fewer positives: no promotion.")
    min_segment_positives: int = Field(
        default=10, ge=1, description="Segments with fewer positives (or negatives) are skipped."
    )
    n_resamples: int = Field(default=1000, ge=100, description="Bootstrap resamples.")
    seed: int = Field(default=0, description="Seed of the bootstrap.")


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
        "floors. Later a challenger replaces the champion (MLflow alias `champion`; the old "
        "one keeps `previous_champion`) only if a paired bootstrap on the same test rows shows "
        "its AUC is not worse by more than the margin, no segment is significantly worse "
        "(Holm), and it loads and scores raw rows in a fresh process. Every decision is logged "
        "in registry.promotion_log and as MLflow tags."
    ),
)
def champion_model(
    context: AssetExecutionContext,
    config: GateConfig,
    evaluation_report: pd.DataFrame,
    mlflow: MlflowResource,
    warehouse: WarehouseResource,
) -> ModelRef | None:
    rules = GateRules(**config.model_dump())
    challenger_rows = evaluation_report[evaluation_report["role"] == "challenger"]
    if challenger_rows.empty:
        raise ValueError(
            "evaluation.evaluation_report holds no challenger rows; "
            "materialize evaluation/evaluation_report first."
        )
    challenger = registry.model_version(
        mlflow.tracking_uri, int(challenger_rows["model_version"].iloc[0])
    )
    champion = mlflow.champion()
    test = warehouse.query("select * from training.training_set where split = 'test'")
    y = test["churned"].astype(int).to_numpy()
    comparison = segments = None
    champion_metrics = headline(evaluation_report, "champion") or None
    if champion is not None and champion.version != challenger.version:
        p_challenger = predict_from_features(
            registry.load_pipeline(mlflow.tracking_uri, challenger), test
        )
        p_champion = predict_from_features(
            registry.load_pipeline(mlflow.tracking_uri, champion), test
        )
        comparison = paired_auc_difference(y, p_challenger, p_champion, rules)
        segments = segment_comparisons(y, p_challenger, p_champion, segment_frame(test), rules)
    challenger_metrics = headline(evaluation_report, "challenger")
    decision = decide_promotion(
        challenger.version,
        challenger_metrics,
        champion.version if champion else None,
        len(test),
        int(y.sum()),
        rules,
        comparison,
        segments,
    )
    smoke = "not run"
    if decision.promote:
        sample = features_to_landing_rows(test.head(SMOKE_ROWS))[SERVING_COLUMNS]
        passed, smoke = promotion.smoke_test(mlflow.tracking_uri, challenger, sample)
        if not passed:
            decision.promote = False
            decision.reasons.append(f"smoke test failed in a fresh process: {smoke}")
        else:
            decision.reasons.append(
                "smoke test passed: loaded from the registry in a fresh process and scored raw rows"
            )
    tags = {
        "gate_decision": "promoted" if decision.promote else "refused",
        "gate_reasons": "; ".join(decision.reasons)[:4000],
        "gate_dagster_run_id": context.run.run_id,
    }
    if comparison is not None:
        tags.update(
            gate_auc_difference=f"{comparison.difference:.5f}",
            gate_auc_difference_low=f"{comparison.ci_low:.5f}",
            gate_p_value=f"{comparison.p_value:.4g}",
        )
    if decision.promote:
        registry.promote(mlflow.tracking_uri, challenger.version, tags)
    else:
        registry.tag_version(mlflow.tracking_uri, challenger.version, tags)
    context.log.info(
        f"Gate on version {challenger.version}: "
        f"{'promoted' if decision.promote else 'refused'}: {decision.reasons}"
    )
    current = mlflow.champion()
    promotion.append_log(
        warehouse.database,
        promotion.log_row(
            "gate",
            decision,
            champion.version if champion else None,
            current.version if current else None,
            challenger_metrics,
            champion_metrics,
            smoke,
            context.run.run_id,
        ),
    )
    if context.run.tags.get("ml_assets/trigger") == "drift":
        promotion.append_retrain_log(
            warehouse.database,
            context.run.tags,
            context.run.run_id,
            decision,
            current.version if current else None,
        )
    # The whole chain behind this model version, for `ml-assets lineage` and the view
    # lineage.prediction_lineage.
    evaluation_event = context.instance.get_latest_materialization_event(
        AssetKey(["evaluation", "evaluation_report"])
    )
    lineage.record_model_lineage(
        warehouse.database,
        lineage.build_model_lineage(
            mlflow.tracking_uri,
            challenger.version,
            evaluation_report,
            decision.promote,
            decision.reasons,
            context.run.run_id,
            evaluation_event.run_id if evaluation_event else None,
        ),
    )
    metadata = {
        "decision": MetadataValue.md(
            f"**{'Promoted' if decision.promote else 'Refused'}**: challenger version "
            f"{challenger.version}; champion is now version "
            f"{current.version if current else 'none'}"
        ),
        "promoted": decision.promote,
        "challenger_version": challenger.version,
        "champion_version": current.version if current else 0,
        "previous_champion_version": champion.version if champion else 0,
        "reasons": MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons)),
        "smoke_test": smoke,
        "challenger_mlflow_run": MetadataValue.url(
            lineage.mlflow_run_link(mlflow.tracking_uri, challenger.run_id)
        ),
    }
    if comparison is not None:
        metadata.update(
            auc_difference=comparison.difference,
            auc_difference_lower_bound=comparison.ci_low,
            p_value_noninferiority=comparison.p_value,
        )
    if segments:
        metadata["segments"] = MetadataValue.md(
            pd.DataFrame(segments)[
                [
                    "segment_column",
                    "segment_value",
                    "n_rows",
                    "n_positives",
                    "difference",
                    "p_adjusted",
                    "worse",
                ]
            ]
            .round(4)
            .to_markdown(index=False)
        )
    context.add_output_metadata(metadata)
    return current
