"""Where a prediction came from: model, training data, code, evaluation, gate, drift event.

The promotion gate records one row per model version in ``lineage.model_lineage``; the view
``lineage.prediction_lineage`` joins it to every row of the dataset's predictions table on
the model version that scored it. :func:`prediction_lineage` answers the question for one
(id, day) and :func:`format_chain` prints it (``ml-assets lineage``). Table and column
names come from the dataset spec (each function takes it; None means the active spec).

Plain Python: no Dagster import; MLflow is imported inside the one function that reads it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ml_assets import settings, warehouse
from ml_assets.dataset import DatasetSpec, active_spec
from ml_assets.schemas import ModelLineage

SCHEMA = "lineage"
MODEL_TABLE = "model_lineage"
PREDICTION_VIEW = "prediction_lineage"
EVALUATION_ARTIFACT_FOLDER = "evaluation"


def _spec(spec: DatasetSpec | None) -> DatasetSpec:
    return spec if spec is not None else active_spec()


def _prediction_columns(spec: DatasetSpec) -> list[str]:
    names = spec.names
    return [
        spec.id_column,
        spec.date_column,
        names.probability_column,
        names.prediction_column,
        "threshold",
        "model_version",
    ]


def _split_table(table: str) -> tuple[str, str]:
    schema, name = table.split(".", 1)
    return schema, name


def predictions_only_sql(spec: DatasetSpec | None = None) -> str:
    """Before the first lineage row exists, a prediction still shows its model version."""
    spec = _spec(spec)
    select = ", ".join(warehouse.quoted(c) for c in _prediction_columns(spec))
    return f"select {select} from {warehouse.qualified_name(spec.names.predictions_table)} p"


# Explicit types: the first row has no drift event, and a column of Nones says nothing of type.
MODEL_TABLE_DDL = f"""
create table if not exists {SCHEMA}.{MODEL_TABLE} (
    model_version bigint not null,
    mlflow_run_id varchar not null,
    mlflow_experiment_id varchar,
    model_uri varchar,
    trained_at timestamp,
    training_dagster_run_id varchar,
    training_set_version varchar,
    window_start timestamp,
    window_end timestamp,
    training_days bigint,
    training_day_list varchar,
    train_rows bigint,
    code_version varchar,
    evaluation_dagster_run_id varchar,
    test_rows bigint,
    test_auc double,
    test_brier double,
    evaluation_metrics varchar,
    evaluation_artifacts varchar,
    gate_decision varchar,
    gate_reasons varchar,
    gate_dagster_run_id varchar,
    decided_at timestamp,
    trigger varchar,
    drift_partition varchar,
    drifted_features varchar,
    drift_event_storage_id bigint
)
"""


def prediction_lineage_sql(spec: DatasetSpec | None = None) -> str:
    """Every prediction joined to the lineage row of the model version that scored it."""
    spec = _spec(spec)
    select = ", ".join("p." + warehouse.quoted(c) for c in _prediction_columns(spec))
    return (
        f"select {select}, m.* exclude (model_version)\n"
        f"from {warehouse.qualified_name(spec.names.predictions_table)} p\n"
        f"left join {SCHEMA}.{MODEL_TABLE} m using (model_version)"
    )


class LineageError(RuntimeError):
    """A lineage question that cannot be answered, with what to do about it."""


def trigger_of(run_tags: Mapping[str, str]) -> str:
    """Why a Dagster run happened, from its tags: drift, schedule, sensor or manual."""
    if run_tags.get("ml_assets/trigger"):
        return run_tags["ml_assets/trigger"]
    if run_tags.get("dagster/schedule_name"):
        return f"schedule:{run_tags['dagster/schedule_name']}"
    if run_tags.get("dagster/sensor_name"):
        return f"sensor:{run_tags['dagster/sensor_name']}"
    return "manual"


def mlflow_run_url(experiment_id: str, run_id: str) -> str:
    """The run's page in the MLflow UI (``make mlflow-ui``)."""
    return f"{settings.mlflow_ui_url()}/#/experiments/{experiment_id}/runs/{run_id}"


def _date_or_none(value: str | None) -> pd.Timestamp | None:
    return pd.Timestamp(value) if value else None


def build_model_lineage(
    tracking_uri: str,
    model_version: int,
    evaluation_report: pd.DataFrame,
    promoted: bool,
    reasons: list[str],
    gate_run_id: str | None,
    evaluation_run_id: str | None,
    model_name: str | None = None,
) -> pd.DataFrame:
    """The ``lineage.model_lineage`` row of one model version.

    Training facts (data version, days, code version, the drift event that asked for the
    retrain) come from the tags the training step put on the model's MLflow run; evaluation
    facts from the challenger's overall rows of ``evaluation_report``.
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    model_name = model_name or active_spec().names.model_name
    version = client.get_model_version(model_name, str(model_version))
    run = client.get_run(version.run_id)
    tags, metrics = run.data.tags, run.data.metrics
    challenger = evaluation_report[
        (evaluation_report["role"] == "challenger")
        & (evaluation_report["segment_column"] == "overall")
    ]
    headline = {
        r.metric: (None if pd.isna(r.value) else float(r.value)) for r in challenger.itertuples()
    }
    test_rows = int(challenger["n_rows"].max()) if not challenger.empty else None
    day_list = tags.get("training_days") or None
    drift_id = tags.get("ml_assets.drift_event_storage_id")
    row = {
        "model_version": int(model_version),
        "mlflow_run_id": version.run_id,
        "mlflow_experiment_id": run.info.experiment_id,
        "model_uri": f"models:/{model_name}/{model_version}",
        "trained_at": pd.Timestamp(run.info.start_time, unit="ms"),
        "training_dagster_run_id": tags.get("dagster_run_id"),
        "training_set_version": tags.get("training_set_version"),
        "window_start": _date_or_none(tags.get("window_start")),
        "window_end": _date_or_none(tags.get("window_end")),
        "training_days": len(day_list.split(",")) if day_list else None,
        "training_day_list": day_list,
        "train_rows": int(metrics["train_rows"]) if "train_rows" in metrics else None,
        "code_version": tags.get("code_version"),
        "evaluation_dagster_run_id": evaluation_run_id,
        "test_rows": test_rows,
        "test_auc": headline.get("auc"),
        "test_brier": headline.get("brier"),
        "evaluation_metrics": json.dumps(headline, sort_keys=True),
        "evaluation_artifacts": f"runs:/{version.run_id}/{EVALUATION_ARTIFACT_FOLDER}",
        "gate_decision": "promoted" if promoted else "refused",
        "gate_reasons": json.dumps(list(reasons)),
        "gate_dagster_run_id": gate_run_id,
        "decided_at": pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
        "trigger": tags.get("trigger") or tags.get("ml_assets.trigger") or "manual",
        "drift_partition": tags.get("ml_assets.drift_partition") or None,
        "drifted_features": tags.get("ml_assets.drifted_features") or None,
        "drift_event_storage_id": int(drift_id) if drift_id else None,
    }
    frame = pd.DataFrame([row])
    for column in ("training_days", "train_rows", "test_rows", "drift_event_storage_id"):
        frame[column] = frame[column].astype("Int64")
    return ModelLineage.validate(frame)


def ensure_prediction_view(con: duckdb.DuckDBPyConnection, spec: DatasetSpec | None = None) -> bool:
    """Create ``lineage.prediction_lineage`` once both tables it joins exist."""
    spec = _spec(spec)
    if not (
        warehouse.table_exists(con, *_split_table(spec.names.predictions_table))
        and warehouse.table_exists(con, SCHEMA, MODEL_TABLE)
    ):
        return False
    select = prediction_lineage_sql(spec)
    con.execute(f"create or replace view {SCHEMA}.{PREDICTION_VIEW} as {select}")
    return True


def record_model_lineage(
    database: str | Path, row: pd.DataFrame, spec: DatasetSpec | None = None
) -> None:
    """Write a model version's lineage row, replacing an earlier one, in one transaction."""
    ModelLineage.validate(row)
    with warehouse.connect(Path(database)) as con:
        con.execute("begin")
        try:
            con.execute(f"create schema if not exists {SCHEMA}")
            con.execute(MODEL_TABLE_DDL)
            con.register("incoming_lineage", row)
            con.execute(
                f"delete from {SCHEMA}.{MODEL_TABLE} where model_version in "
                "(select model_version from incoming_lineage)"
            )
            con.execute(
                f"insert into {SCHEMA}.{MODEL_TABLE} by name select * from incoming_lineage"
            )
            con.unregister("incoming_lineage")
            ensure_prediction_view(con, spec)
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise


def prediction_lineage(
    database: str | Path,
    entity_id: str,
    day: dt.date,
    lock_timeout_s: float = 10.0,
    spec: DatasetSpec | None = None,
) -> dict[str, Any]:
    """The lineage chain of the prediction for id ``entity_id`` on ``day``.

    Raises
    ------
    LineageError
        When the warehouse, the predictions or that (id, day) do not exist, saying
        which and what to do.
    """
    path = Path(database)
    if not path.exists():
        raise LineageError(
            f"No warehouse at {path}: run `make run` first, or point ML_ASSETS_DUCKDB_PATH at "
            "the warehouse file."
        )
    try:
        with warehouse.connect(path, read_only=True, lock_timeout_s=lock_timeout_s) as con:
            return _lookup(con, path, entity_id, day, _spec(spec))
    except warehouse.WarehouseError as exc:
        raise LineageError(str(exc)) from exc


def _lookup(
    con: duckdb.DuckDBPyConnection, path: Path, entity_id: str, day: dt.date, spec: DatasetSpec
) -> dict[str, Any]:
    table = spec.names.predictions_table
    if not warehouse.table_exists(con, *_split_table(table)):
        raise LineageError(
            f"{path} holds no predictions yet (no table {table}): train a "
            "champion (retrain_job) and ingest a day, e.g. with `make run`."
        )
    has_lineage = warehouse.table_exists(con, SCHEMA, MODEL_TABLE)
    view = prediction_lineage_sql(spec) if has_lineage else predictions_only_sql(spec)
    found = con.execute(
        f"select * from ({view}) where {warehouse.quoted(spec.id_column)} = ? "
        f"and cast({warehouse.quoted(spec.date_column)} as date) = ?",
        [entity_id, day],
    ).df()
    if found.empty:
        on_day, first, last, days = con.execute(
            "select count(*) filter (where day = ?), min(day), max(day), count(distinct day) "
            f"from (select cast({warehouse.quoted(spec.date_column)} as date) as day "
            f"from {warehouse.qualified_name(table)})",
            [day],
        ).fetchone()
        entity = spec.entity.replace("_", " ")
        if on_day:
            raise LineageError(
                f"{entity.capitalize()} {entity_id!r} has no prediction on {day} ({on_day} "
                f"rows were scored that day in {table}); check the {spec.id_column}."
            )
        raise LineageError(
            f"No predictions for {day} in {table} of {path} (scored days: "
            f"{days}, from {first} to {last}); ingest that day or pick a scored one."
        )
    record = {k: (None if _missing(v) else v) for k, v in found.iloc[0].to_dict().items()}
    record["lineage_recorded"] = bool(has_lineage and record.get("mlflow_run_id"))
    if record.get("mlflow_run_id"):
        record["mlflow_run_url"] = mlflow_run_url(
            record["mlflow_experiment_id"], record["mlflow_run_id"]
        )
    return record


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _day(value: Any) -> str:
    return str(pd.Timestamp(value).date()) if value is not None else "?"


def format_chain(record: Mapping[str, Any], spec: DatasetSpec | None = None) -> str:
    """The chain as lines a person reads top-down: prediction back to its cause."""
    spec = _spec(spec)
    names = spec.names
    model = names.model_name
    predicted = spec.name if record[names.prediction_column] else f"no {spec.name}"
    lines = [
        f"prediction    {spec.entity.replace('_', ' ')} {record[spec.id_column]} on "
        f"{_day(record[spec.date_column])}: {spec.name} probability "
        f"{record[names.probability_column]:.4f}, predicted {predicted} at threshold "
        f"{record['threshold']:.4f}",
    ]
    version = record["model_version"]
    if not record.get("lineage_recorded"):
        lines.append(
            f"model         {model} version {version} (models:/{model}/{version}); no "
            "lineage row was recorded for it (lineage.model_lineage is written by the "
            "promotion gate: retrain to record one)"
        )
        return "\n".join(lines)
    evaluation = json.loads(record.get("evaluation_metrics") or "{}")
    reasons = json.loads(record.get("gate_reasons") or "[]")
    lines += [
        f"model         {model} version {version} ({record['model_uri']}), trained "
        f"{record['trained_at']}",
        f"mlflow run    {record['mlflow_run_id']} (experiment {record['mlflow_experiment_id']}) "
        f"{record['mlflow_run_url']}",
        f"training set  data version {record['training_set_version']}, "
        f"{record['training_days']} days from {_day(record['window_start'])} to "
        f"{_day(record['window_end'])}, {record['train_rows']} train rows; Dagster run "
        f"{record['training_dagster_run_id']}",
        f"  days        {record['training_day_list']}",
        f"code version  {record['code_version']}",
        "evaluation    "
        + ", ".join(
            f"{name} {evaluation[name]:.4f}"
            for name in ("auc", "pr_auc", "brier", "log_loss")
            if evaluation.get(name) is not None
        )
        + f" on {record['test_rows']} test rows; plots {record['evaluation_artifacts']}; "
        f"Dagster run {record['evaluation_dagster_run_id']}",
        f"gate          {record['gate_decision']} at {record['decided_at']}: " + "; ".join(reasons),
    ]
    if record.get("drift_partition"):
        lines.append(
            f"caused by     drift event on {record['drift_partition']} (drifted: "
            f"{record['drifted_features']}; event log storage id "
            f"{record['drift_event_storage_id']}), see monitoring.retrain_log"
        )
    else:
        lines.append(f"caused by     {record['trigger']} retrain (no drift event)")
    return "\n".join(lines)


def mlflow_run_link(tracking_uri: str, run_id: str) -> str:
    """:func:`mlflow_run_url` for a run id (looks up its experiment in the tracking store)."""
    from mlflow import MlflowClient

    run = MlflowClient(tracking_uri=tracking_uri).get_run(run_id)
    return mlflow_run_url(run.info.experiment_id, run_id)
