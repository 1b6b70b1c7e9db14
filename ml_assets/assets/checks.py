"""Asset checks beside the assets they guard: schema, row counts, drift, lineage.

They run in the same run as their asset (``ingest_job``, ``retrain_job``) on the days that
run wrote (read from its partition tags), or on the newest stored day when launched alone
from the UI. None is blocking: bad rows never reach a table (pandera validates before the
write), so these report what was stored rather than gate it.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandera.pandas as pa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from ml_assets import lineage, table_checks
from ml_assets import warehouse as wh
from ml_assets.assets.common import Wiring
from ml_assets.resources import WarehouseResource
from ml_assets.schemas import EvaluationReport

Table = tuple[str, str]


def _table(w: Wiring, role: str) -> Table:
    """(schema, table) of a role's asset: the names helper's ``<group>.<last part>``."""
    return tuple(w.names.table(w.names.asset_keys[role]).split("."))  # type: ignore[return-value]


def run_days(tags: Mapping[str, str]) -> tuple[dt.date, dt.date] | None:
    """The day range a run wrote, from its partition tags (None for an unpartitioned run)."""
    if tags.get("dagster/partition"):
        day = dt.date.fromisoformat(tags["dagster/partition"])
        return day, day
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        return dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return None


def _days_to_check(context: AssetCheckExecutionContext, con, key: Table, spec):
    days = run_days(context.run.tags)
    if days is None:
        newest = table_checks.latest_day(con, *key, spec=spec)
        days = (newest, newest) if newest else None
    return days


def _missing(con, key: Table) -> AssetCheckResult | None:
    """A failed result saying so when the table is not there yet (check launched alone)."""
    if wh.table_exists(con, *key):
        return None
    return AssetCheckResult(
        passed=False,
        metadata={"error": f"{'.'.join(key)} does not exist yet; materialize its asset first."},
    )


def _metadata(facts: dict[str, Any], days=None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in facts.items():
        if isinstance(value, list | dict):
            out[name] = MetadataValue.json(value)
        elif isinstance(value, str) and "\n" in value:
            out[name] = MetadataValue.md(value)
        else:
            out[name] = value
    if days is not None:
        out["days_checked"] = f"{days[0]} .. {days[1]}"
    return out


def _evaluate(
    warehouse: WarehouseResource,
    key: Table,
    rule,
    context: AssetCheckExecutionContext | None = None,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    spec=None,
) -> AssetCheckResult:
    """Apply ``rule(con, days) -> (passed, facts)`` to the stored table ``key``.

    A missing table fails with a message saying what to materialize. ``days`` are the run's
    days (or the newest stored day) when a ``context`` is given, else None (whole table).
    """
    with wh.connect(warehouse.database, lock_timeout_s=warehouse.lock_timeout_s) as con:
        if (missing := _missing(con, key)) is not None:
            return missing
        days = _days_to_check(context, con, key, spec) if context is not None else None
        passed, facts = rule(con, days)
    return AssetCheckResult(passed=passed, severity=severity, metadata=_metadata(facts, days))


def _schema_check(
    w: Wiring, role: str, model: type[pa.DataFrameModel], daily: bool
) -> AssetChecksDefinition:
    key = _table(w, role)

    @asset_check(
        asset=w.key(role),
        name="schema_matches",
        description=(
            f"The stored table {'.'.join(key)} has exactly the columns of the pandera model "
            f"{model.__name__}, in order, and the rows written by this run pass its rules."
        ),
    )
    def schema_matches(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        return _evaluate(
            warehouse,
            key,
            lambda con, days: table_checks.schema_matches(con, *key, model, days, spec=w.spec),
            context if daily else None,
            spec=w.spec,
        )

    return schema_matches


def _row_checks(w: Wiring) -> list[AssetChecksDefinition]:
    raw, features, predictions = _table(w, "raw"), _table(w, "features"), _table(w, "predictions")

    def unique_ids(con, days):
        if days is None:
            return False, {"error": "no rows stored"}
        return table_checks.every_day_has_unique_ids(con, *raw, days, spec=w.spec)

    @asset_check(
        asset=w.key("raw"),
        description=f"Every day of the run has rows and no {w.spec.id_column} appears twice "
        "on a day.",
    )
    def rows_for_every_day(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        return _evaluate(warehouse, raw, unique_ids, context, spec=w.spec)

    @asset_check(
        asset=w.key("features"),
        description="One feature row per raw row, day by day: no row lost or doubled by the "
        "feature function.",
    )
    def one_row_per_snapshot(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        return _evaluate(
            warehouse,
            features,
            lambda con, days: table_checks.same_rows_per_day(con, features, raw, days, w.spec),
            context,
            spec=w.spec,
        )

    @asset_check(
        asset=w.key("predictions"),
        description=f"Every {w.spec.entity} with features that day has a prediction, once.",
    )
    def every_customer_scored(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        return _evaluate(
            warehouse,
            predictions,
            lambda con, days: table_checks.same_rows_per_day(
                con, predictions, features, days, w.spec
            ),
            context,
            spec=w.spec,
        )

    return [rows_for_every_day, one_row_per_snapshot, every_customer_scored]


def _table_checks(w: Wiring) -> list[AssetChecksDefinition]:
    training, evaluation = _table(w, "training_set"), _table(w, "evaluation")
    predictions, drift = _table(w, "predictions"), _table(w, "drift")

    @asset_check(
        asset=w.key("training_set"),
        description="Train and test splits both hold both classes, and the test split has "
        "enough rows (200) for the gate to decide.",
    )
    def splits_are_usable(warehouse: WarehouseResource) -> AssetCheckResult:
        return _evaluate(
            warehouse,
            training,
            lambda con, _: table_checks.splits_are_usable(con, spec=w.spec),
            severity=AssetCheckSeverity.WARN,
        )

    @asset_check(
        asset=w.key("evaluation"),
        description="Every segment of each model carries every metric, each interval is "
        "ordered, and the challenger's overall metrics are finite.",
    )
    def metrics_complete(warehouse: WarehouseResource) -> AssetCheckResult:
        return _evaluate(
            warehouse,
            evaluation,
            lambda con, _: table_checks.metrics_complete(con, spec=w.spec),
            severity=AssetCheckSeverity.WARN,
        )

    @asset_check(
        asset=w.key("predictions"),
        description="Every model version that scored the day has its lineage recorded "
        "(lineage.model_lineage), so `ml-assets lineage` can trace each prediction; also "
        "creates the view lineage.prediction_lineage once predictions exist.",
    )
    def lineage_recorded(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        return _evaluate(
            warehouse,
            predictions,
            lambda con, days: _lineage_of_predictions(con, days, w.spec),
            context,
            AssetCheckSeverity.WARN,
            spec=w.spec,
        )

    @asset_check(
        asset=w.key("drift"),
        description="Warns when a feature drifted on the run's days (the same decision "
        "drift_sensor acts on); the metadata names the features per day.",
    )
    def no_feature_drift(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        return _evaluate(
            warehouse,
            drift,
            lambda con, days: table_checks.drifted_features_by_day(con, days, w.spec),
            context,
            severity=AssetCheckSeverity.WARN,
            spec=w.spec,
        )

    return [splits_are_usable, metrics_complete, lineage_recorded, no_feature_drift]


def _lineage_of_predictions(con, days, spec):
    # The view joins two tables; the first scored day is the first moment both exist.
    view = lineage.ensure_prediction_view(con, spec)
    passed, facts = table_checks.predictions_have_lineage(con, days, spec)
    return passed, {**facts, "view_ready": view}


def build_checks(w: Wiring) -> list[AssetChecksDefinition]:
    """Every asset check of a dataset, on the keys and tables of its names."""
    models = w.models
    return [
        _schema_check(w, "raw", models.raw, daily=True),
        _schema_check(w, "features", models.features, daily=True),
        _schema_check(w, "training_set", models.training, daily=False),
        _schema_check(w, "evaluation", EvaluationReport, daily=False),
        _schema_check(w, "predictions", models.predictions, daily=True),
        _schema_check(w, "drift", models.drift, daily=True),
        *_row_checks(w),
        *_table_checks(w),
    ]
