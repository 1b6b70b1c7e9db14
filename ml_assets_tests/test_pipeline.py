"""The asset graph end to end with materialize(): real DuckDB file, real MLflow store."""

from __future__ import annotations

import hashlib
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, materialize
from sklearn.metrics import roc_auc_score

from ml_assets import registry, settings
from ml_assets.definitions import ALL_ASSETS, build_resources
from ml_assets.features import SERVING_COLUMNS
from ml_assets.schemas import (
    ChurnPredictions,
    CustomerFeatures,
    CustomerSnapshot,
    DriftReport,
    EvaluationReport,
    TrainingSet,
)
from ml_assets_tests.conftest import day, write_days

INGEST = AssetSelection.assets(["raw", "customer_snapshots"], ["features", "customer_features"])
DAILY = INGEST | AssetSelection.assets(
    ["monitoring", "drift_report"], ["scoring", "churn_predictions"]
)
RETRAIN = AssetSelection.assets(
    ["training", "training_set"],
    ["training", "churn_model"],
    ["evaluation", "evaluation_report"],
    ["registry", "champion_model"],
)


# Ten days of training data, and a lighter model so the search stays quick in tests.
WINDOW = {
    "ops": {
        "training__training_set": {"config": {"window_days": 10}},
        "training__churn_model": {"config": {"max_iter": 80}},
    }
}


def run(selection, instance, partition_key=None, days=None, run_config=None, raise_on_error=True):
    tags = {}
    if days:
        tags = {
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[1].isoformat(),
        }
    return materialize(
        ALL_ASSETS,
        selection=selection,
        resources=build_resources(),
        instance=instance,
        partition_key=partition_key,
        tags=tags,
        run_config=run_config,
        raise_on_error=raise_on_error,
    )


def query(sql: str, params=None) -> pd.DataFrame:
    with duckdb.connect(str(settings.duckdb_path()), read_only=True) as con:
        return con.execute(sql, params or []).df()


def metadata_of(result, key: list[str]) -> dict:
    for event in result.get_asset_materialization_events():
        if event.asset_key == AssetKey(key):
            return {k: v.value for k, v in event.materialization.metadata.items()}
    raise AssertionError(f"{key} was not materialized")


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory, mlflow_template):
    """Twelve days ingested as one range run, then a model trained and promoted: once per
    session (per xdist worker), in a folder of its own. Tests get a copy (``trained``)."""
    root = tmp_path_factory.mktemp("trained_template")
    data = root / "data"
    (data / "mlflow").mkdir(parents=True)
    shutil.copyfile(mlflow_template, data / "mlflow" / "mlflow.db")
    uri = f"sqlite:///{data / 'mlflow' / 'mlflow.db'}"
    env = {
        "ML_ASSETS_DATA_DIR": str(data),
        "ML_ASSETS_DUCKDB_PATH": str(data / "warehouse.duckdb"),
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        # Artifacts stay in the template's folder: the copies' stores point there, and runs
        # of a test write new artifacts under their own run ids beside them.
        "ML_ASSETS_MLFLOW_ARTIFACTS": str(root / "artifacts"),
    }
    import mlflow

    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        write_days(
            data / "landing",
            12,
            scenario="covariate",
            drift_start=day(12),
            drift_columns=("monthly_charges",),
            drift_magnitude=1.0,
        )
        instance = DagsterInstance.ephemeral()
        assert run(INGEST, instance, days=(day(0), day(11))).success
        result = run(RETRAIN, instance, run_config=WINDOW)
        assert result.success
        metadata = {
            tuple(key): metadata_of(result, key)
            for key in (["training", "churn_model"], ["registry", "champion_model"])
        }
    return data, metadata


@pytest.fixture()
def trained(project, trained_template):
    """A copy of the trained template in this test's project folder (warehouse, landing
    files, MLflow store) and a fresh ephemeral instance: tests may write to it freely."""
    template, metadata = trained_template
    shutil.copytree(template / "landing", project / "landing")
    shutil.copyfile(template / "warehouse.duckdb", project / "warehouse.duckdb")
    shutil.copyfile(template / "mlflow" / "mlflow.db", project / "mlflow" / "mlflow.db")
    return project, DagsterInstance.ephemeral(), metadata


@pytest.mark.slow  # the trained template runs the gate, whose smoke test is a process
@pytest.mark.xdist_group("trained_template")  # one worker trains it
def test_lifecycle_tables_model_and_gate(trained):
    project, instance, metadata = trained
    raw = query("select * from raw.customer_snapshots")
    assert len(raw) == 12 * 600
    assert sorted(raw["snapshot_date"].dt.date.unique()) == [day(i) for i in range(12)]
    CustomerSnapshot.validate(raw)
    CustomerFeatures.validate(query("select * from features.customer_features"))

    training = TrainingSet.validate(query("select * from training.training_set"))
    # The window is the 10 most recent labelled days.
    assert sorted(training["snapshot_date"].dt.date.unique()) == [day(i) for i in range(2, 12)]
    assert set(training["split"]) == {"train", "test"}
    # No customer is on both sides of the split.
    sides = training.groupby("customer_id")["split"].nunique()
    assert (sides == 1).all()

    champion = registry.alias_version(settings.mlflow_tracking_uri())
    assert champion is not None and champion.version == 1
    gate = metadata["registry", "champion_model"]
    assert gate["promoted"] is True and gate["champion_version"] == 1

    report = EvaluationReport.validate(query("select * from evaluation.evaluation_report"))
    assert set(report["role"]) == {"challenger"}
    assert {"overall", "plan", "contract", "region", "tenure_band"} <= set(report["segment_column"])
    reported_auc = report.query("segment_column == 'overall' and metric == 'auc'")["value"].iloc[0]

    # Independent check: the registered model, loaded by alias through MLflow's generic pyfunc
    # interface, scores raw landing rows of the test split; sklearn computes the AUC.
    import mlflow.pyfunc

    test = training[training["split"] == "test"]
    keys = ["customer_id", "snapshot_date"]
    raw_test = raw.merge(test[keys], on=keys)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri())
    model = mlflow.pyfunc.load_model(f"models:/{settings.REGISTERED_MODEL_NAME}@champion")
    proba = np.asarray(model.predict(raw_test[SERVING_COLUMNS]))[:, 1]
    assert roc_auc_score(raw_test["churned"].astype(int), proba) == pytest.approx(
        reported_auc, abs=1e-9
    )
    assert reported_auc > 0.7

    # The hyper-parameter search left one MLflow child run per candidate under the model's run.
    from mlflow import MlflowClient

    client = MlflowClient(settings.mlflow_tracking_uri())
    children = client.search_runs(
        [client.get_run(champion.run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{champion.run_id}'",
    )
    assert len(children) == 4
    assert {r.data.params["learning_rate"] for r in children} == {"0.05", "0.1"}
    chosen = max(children, key=lambda r: r.data.metrics["cv_auc"])
    model_meta = metadata["training", "churn_model"]
    assert model_meta["cv_auc"] == pytest.approx(chosen.data.metrics["cv_auc"])


@pytest.mark.slow  # the trained template runs the gate, whose smoke test is a process
@pytest.mark.xdist_group("trained_template")  # one worker trains it
def test_drifted_day_is_flagged_and_scored_by_champion(trained):
    project, instance, _ = trained
    write_days(
        project / "landing",
        2,
        first=12,
        scenario="covariate",
        drift_start=day(12),
        drift_columns=("monthly_charges",),
        drift_magnitude=1.0,
    )
    calm = run(DAILY, instance, partition_key=day(11).isoformat())
    shifted = run(DAILY, instance, partition_key=day(13).isoformat())

    calm_meta = metadata_of(calm, ["monitoring", "drift_report"])
    shifted_meta = metadata_of(shifted, ["monitoring", "drift_report"])
    assert calm_meta["dataset_drift"] is False and calm_meta["drifted_features"] == []
    assert shifted_meta["dataset_drift"] is True
    assert "monthly_charges" in shifted_meta["drifted_features"]
    assert shifted_meta["reference_model_version"] == 1

    drift = DriftReport.validate(query("select * from monitoring.drift_report"))
    assert sorted(drift["snapshot_date"].dt.date.unique()) == [day(11), day(13)]
    flagged = drift[drift["drifted"]]
    assert set(flagged["snapshot_date"].dt.date) == {day(13)}

    predictions = ChurnPredictions.validate(query("select * from scoring.churn_predictions"))
    assert len(predictions) == 2 * 600
    assert set(predictions["model_version"]) == {1}
    # Batch scoring from features equals the registered model on raw rows.
    raw = query("select * from raw.customer_snapshots where snapshot_date = ?", [day(13)])
    pipeline = registry.load_pipeline(
        settings.mlflow_tracking_uri(), registry.alias_version(settings.mlflow_tracking_uri())
    )
    direct = pd.Series(
        pipeline.predict_proba(raw[SERVING_COLUMNS])[:, 1], index=raw["customer_id"].to_numpy()
    )
    stored = predictions[predictions["snapshot_date"].dt.date == day(13)].set_index("customer_id")
    np.testing.assert_allclose(stored["churn_probability"], direct[stored.index], rtol=0, atol=0)


@pytest.mark.slow  # the trained template runs the gate, whose smoke test is a process
@pytest.mark.xdist_group("trained_template")  # one worker trains it
def test_a_range_run_carries_each_days_own_drift_decision(trained):
    """drift_sensor reads per-day metadata: a range run must not mark calm days as drifted."""
    project, instance, _ = trained
    write_days(
        project / "landing",
        2,
        first=12,
        scenario="covariate",
        drift_start=day(13),
        drift_columns=("monthly_charges",),
        drift_magnitude=1.0,
    )
    result = run(DAILY, instance, days=(day(10), day(13)))
    drift, performance = {}, {}
    for event in result.get_asset_materialization_events():
        meta = {k: v.value for k, v in event.materialization.metadata.items()}
        if event.asset_key == AssetKey(["monitoring", "drift_report"]):
            drift[event.materialization.partition] = meta
        elif event.asset_key == AssetKey(["scoring", "churn_predictions"]):
            performance[event.materialization.partition] = meta
    keys = [day(i).isoformat() for i in range(10, 14)]
    assert sorted(drift) == keys and sorted(performance) == keys
    # The stored report says which days drifted; each day's metadata must say the same.
    stored = query(
        "select snapshot_date, bool_or(drifted) as drifted, coalesce(list(feature "
        "order by feature) filter (where drifted), []) as features "
        "from monitoring.drift_report group by 1"
    )
    by_day = {r.snapshot_date.date().isoformat(): r for r in stored.itertuples()}
    for key in keys:
        assert drift[key]["dataset_drift"] == bool(by_day[key].drifted), key
        assert drift[key]["drifted_features"] == list(by_day[key].features), key
    assert drift[day(13).isoformat()]["dataset_drift"] is True
    assert not any(drift[k]["dataset_drift"] for k in keys[:3])
    # Each day names the last day the champion learnt from (drift_sensor reads it).
    trained_to = query("select max(snapshot_date) as d from training.training_set")["d"][0]
    assert {drift[k]["reference_window_end"] for k in keys} == {trained_to.date().isoformat()}
    # Realised AUC per day, against sklearn on that day's stored predictions and labels.
    scored = query(
        "select p.snapshot_date, p.churn_probability, f.churned "
        "from scoring.churn_predictions p join features.customer_features f "
        "using (customer_id, snapshot_date) where f.churned is not null"
    )
    for key in keys:
        rows = scored[scored["snapshot_date"].dt.date.astype(str) == key]
        assert performance[key]["labelled_rows"] == len(rows)
        assert performance[key]["realised_auc"] == pytest.approx(
            roc_auc_score(rows["churned"].astype(int), rows["churn_probability"]), abs=1e-9
        )


@pytest.mark.slow  # the trained template runs the gate, whose smoke test is a process
@pytest.mark.xdist_group("trained_template")  # one worker trains it
def test_retrain_gate_promotes_equal_and_refuses_below_floor(trained):
    project, instance, _ = trained
    window = WINDOW
    promoted = run(RETRAIN, instance, run_config=window)
    meta = metadata_of(promoted, ["registry", "champion_model"])
    assert meta["promoted"] is True and meta["champion_version"] == 2
    assert (
        registry.alias_version(
            settings.mlflow_tracking_uri(), registry.PREVIOUS_CHAMPION_ALIAS
        ).version
        == 1
    )
    report = query("select * from evaluation.evaluation_report")
    assert set(report["role"]) == {"challenger", "champion"}

    # Refused on the floor whatever the model: no search needed for this challenger.
    strict = {
        "ops": {
            **window["ops"],
            "training__churn_model": {"config": {"max_iter": 80, "search": False}},
            "registry__champion_model": {"config": {"min_auc": 0.99}},
        }
    }
    refused = run(RETRAIN, instance, run_config=strict)
    meta = metadata_of(refused, ["registry", "champion_model"])
    assert meta["promoted"] is False and meta["champion_version"] == 2
    assert "below the floor" in meta["reasons"]
    assert registry.alias_version(settings.mlflow_tracking_uri()).version == 2


def test_bad_landing_file_fails_only_its_partition(project):
    landing = project / "landing"
    write_days(landing, 2)
    instance = DagsterInstance.ephemeral()
    assert run(INGEST, instance, partition_key=day(0).isoformat()).success
    before = query("select * from raw.customer_snapshots")

    bad_path = landing / f"customers_{day(1).isoformat()}.csv"
    frame = pd.read_csv(bad_path, dtype=str, keep_default_na=False)
    frame.loc[[3, 8, 21], "monthly_charges"] = "-5.0"
    frame.to_csv(bad_path, index=False)
    digest = hashlib.sha256(bad_path.read_bytes()).hexdigest()

    result = run(INGEST, instance, partition_key=day(1).isoformat(), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert bad_path.name in message and "monthly_charges" in message and "3 rows" in message
    # Nothing downstream ran, the other day is as it was, the landing file is untouched.
    assert not [e for e in result.get_asset_materialization_events()]
    pd.testing.assert_frame_equal(query("select * from raw.customer_snapshots"), before)
    assert hashlib.sha256(bad_path.read_bytes()).hexdigest() == digest


def test_rematerializing_a_day_replaces_exactly_that_day(project):
    write_days(project / "landing", 3)
    instance = DagsterInstance.ephemeral()
    assert run(INGEST, instance, days=(day(0), day(2))).success
    first = query("select * from features.customer_features order by snapshot_date, customer_id")
    assert run(INGEST, instance, partition_key=day(1).isoformat()).success
    again = query("select * from features.customer_features order by snapshot_date, customer_id")
    pd.testing.assert_frame_equal(first, again)
    assert len(again) == 3 * 600
