"""The lineage chain of a prediction, checked against the sources it summarises; column lineage
of the features against the feature function itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance
from sklearn.metrics import roc_auc_score

from ml_assets import settings
from ml_assets.assets.features import feature_sources
from ml_assets.dataset import active_spec
from ml_assets.definitions import ALL_ASSETS
from ml_assets.features import build_customer_features
from ml_assets.lineage import LineageError, format_chain, prediction_lineage
from ml_assets.schemas import LANDING_COLUMNS
from ml_assets_examples.churn import generator
from ml_assets_tests import dagster_processes as procs
from ml_assets_tests.conftest import START, day
from ml_assets_tests.small_lifecycle import DRIFT_DAY, served_lifecycle  # noqa: F401

BIN = Path(sys.executable).parent


def query(sql: str, params=None) -> pd.DataFrame:
    with duckdb.connect(str(settings.duckdb_path()), read_only=True) as con:
        return con.execute(sql, params or []).df()


def cli(*args: str) -> subprocess.CompletedProcess:
    return procs.run([str(BIN / "ml-assets"), "lineage", *args])


@pytest.fixture()
def lifecycle(served_lifecycle, monkeypatch):  # noqa: F811
    for name, value in served_lifecycle.env.items():
        monkeypatch.setenv(name, value)
    instance = DagsterInstance.get()
    yield served_lifecycle, instance
    instance.dispose()


@pytest.mark.slow
@pytest.mark.xdist_group("lifecycle")  # shares served_lifecycle with test_ui
def test_prediction_lineage_matches_its_sources(lifecycle):
    from mlflow import MlflowClient

    life, instance = lifecycle
    client = MlflowClient(settings.mlflow_tracking_uri())
    database = settings.duckdb_path()
    after = day(DRIFT_DAY + 2)
    customer = query(
        "select min(customer_id) as c from scoring.churn_predictions "
        "where cast(snapshot_date as date) = ?",
        [after],
    )["c"].iloc[0]
    stored = query(
        "select * from scoring.churn_predictions where customer_id = ? and "
        "cast(snapshot_date as date) = ?",
        [customer, after],
    ).iloc[0]
    chain = prediction_lineage(database, customer, after)

    # The prediction and the model version that made it.
    assert chain["churn_probability"] == stored["churn_probability"]
    assert chain["model_version"] == stored["model_version"] == 2
    version = client.get_model_version("churn_model", "2")
    assert chain["mlflow_run_id"] == version.run_id
    assert chain["model_uri"] == "models:/churn_model/2"
    assert chain["mlflow_run_url"].endswith(f"/runs/{version.run_id}")

    # The training set: Dagster's data version of the training_set materialization that the
    # retrain run wrote, and the days now stored in training.training_set (the same run's).
    event = instance.get_latest_materialization_event(AssetKey(["training", "training_set"]))
    assert event.run_id == life.drift_retrain_run_id
    assert chain["training_set_version"] == event.asset_materialization.tags["dagster/data_version"]
    days = sorted(
        query("select distinct cast(snapshot_date as date) as d from training.training_set")[
            "d"
        ].astype(str)
    )
    assert chain["training_day_list"].split(",") == days
    assert chain["training_days"] == len(days) == 10
    assert str(chain["window_start"].date()) == days[0]
    assert str(chain["window_end"].date()) == days[-1] == day(DRIFT_DAY).isoformat()
    assert chain["training_dagster_run_id"] == life.drift_retrain_run_id
    model_key = AssetKey(list(active_spec().names.model))
    (model_asset,) = [a for a in ALL_ASSETS if a.key == model_key]
    CODE_VERSION = model_asset.code_versions_by_key[model_key]
    assert chain["code_version"] == CODE_VERSION

    # The evaluation: the AUC it reports is sklearn's on the model's test-split predictions.
    import mlflow.sklearn

    from ml_assets.modelling import predict_from_features

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri())
    pipeline = mlflow.sklearn.load_model("models:/churn_model/2")
    test = query("select * from training.training_set where split = 'test'")
    auc = roc_auc_score(test["churned"].astype(int), predict_from_features(pipeline, test))
    assert chain["test_auc"] == pytest.approx(auc, abs=1e-12)
    assert chain["test_rows"] == len(test)
    assert chain["evaluation_dagster_run_id"] == life.drift_retrain_run_id
    assert chain["evaluation_artifacts"] == f"runs:/{version.run_id}/evaluation"
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "evaluation")}
    assert "evaluation/roc.png" in artifacts

    # The gate and the drift event, as the promotion and retrain logs recorded them.
    gate = query("select * from registry.promotion_log where challenger_version = 2").iloc[0]
    assert chain["gate_decision"] == "promoted" and bool(gate["promoted"])
    retrain = query("select * from monitoring.retrain_log").iloc[0]
    assert chain["drift_partition"] == retrain["drift_partition"] == day(DRIFT_DAY).isoformat()
    assert chain["drifted_features"] == retrain["drifted_features"]
    assert "monthly_charges" in chain["drifted_features"]
    assert chain["drift_event_storage_id"] == retrain["drift_event_storage_id"]
    assert retrain["model_version"] == 2
    assert chain["trigger"] == "drift"

    # Before the retrain the first model scored, and no drift event caused it.
    before = prediction_lineage(database, customer, day(DRIFT_DAY))
    assert before["model_version"] == 1
    assert before["drift_partition"] is None and before["trigger"] == "bootstrap"

    # The stored view answers the same question for every prediction.
    view = query("select * from lineage.prediction_lineage")
    assert len(view) == len(query("select * from scoring.churn_predictions"))
    assert view["mlflow_run_id"].notna().all()
    row = view[
        (view["customer_id"] == customer)
        & (view["snapshot_date"].dt.date == pd.Timestamp(after).date())
    ].iloc[0]
    assert row["mlflow_run_id"] == chain["mlflow_run_id"]

    # The command prints the chain.
    done = cli("--customer", customer, "--date", after.isoformat())
    assert done.returncode == 0, done.stderr
    for text in (
        version.run_id,
        chain["training_set_version"],
        day(DRIFT_DAY).isoformat(),
        "promoted",
        f"code version  {CODE_VERSION}",
    ):
        assert text in done.stdout
    assert done.stdout.strip() == format_chain(chain)

    # Unknown customer, unscored day: exit 1 and a message saying which.
    done = cli("--customer", "NO-SUCH-CUSTOMER", "--date", after.isoformat())
    assert done.returncode == 1 and "has no prediction on" in done.stderr
    done = cli("--customer", customer, "--date", "2031-01-01")
    assert done.returncode == 1 and "No predictions for 2031-01-01" in done.stderr
    assert "scored days: 3" in done.stderr


@pytest.mark.slow
def test_lineage_errors_without_warehouse_or_predictions(project, tmp_path):
    missing = tmp_path / "nowhere" / "warehouse.duckdb"
    with pytest.raises(LineageError, match="No warehouse at"):
        prediction_lineage(missing, "C1", START)
    done = cli("--customer", "C1", "--date", START.isoformat(), "--warehouse", str(missing))
    assert done.returncode == 1 and "No warehouse at" in done.stderr
    assert "Traceback" not in done.stderr
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(LineageError, match="no predictions yet"):
        prediction_lineage(empty, "C1", START)
    done = cli("--customer", "C1", "--date", "2025-13-01")
    assert done.returncode == 2 and "use YYYY-MM-DD" in done.stderr


def test_column_lineage_names_exactly_the_columns_each_feature_reads():
    # Two days of generated landing rows; each landing column in turn is replaced by the same
    # column of other rows, and the feature columns that change must be those the lineage
    # metadata names as reading it: no more, no fewer.
    config = generator.GeneratorConfig(start=START, days=2, rows_per_day=1500, seed=3)
    raw = pd.concat(
        [generator.generate_day(config, day(i))[0] for i in range(2)], ignore_index=True
    )
    # Spread signup dates so tenure crosses the new-customer cut either way.
    rng = np.random.default_rng(0)
    raw["signup_date"] = pd.to_datetime(raw["snapshot_date"]) - pd.to_timedelta(
        rng.integers(0, 90, len(raw)), unit="D"
    )
    base = build_customer_features(raw)
    FEATURE_SOURCES = feature_sources(active_spec())
    assert set(FEATURE_SOURCES) == set(base.columns)
    for column in LANDING_COLUMNS:
        shuffled = raw.copy()
        shuffled[column] = raw[column].sample(frac=1, random_state=1).to_numpy()
        moved = build_customer_features(shuffled)
        changed = {
            c for c in base.columns if not moved[c].astype(object).equals(base[c].astype(object))
        }
        declared = {f for f, sources in FEATURE_SOURCES.items() if column in sources}
        assert changed == declared, column
