"""SIGKILL in the middle of a warehouse write and of MLflow logging/registration.

A test hook (``ML_ASSETS_TEST_PAUSE_WRITE`` in warehouse.py; a patched MLflow client in the
child script) stops the real write at a chosen point; the test then kills the whole process
group with SIGKILL, as an OOM killer or a power cut would, and checks what is left:
the partition holds exactly the old or exactly the new rows, the DuckDB file opens, the
champion alias still points at a complete, loadable model, and a rerun succeeds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from ml_assets import registry, settings
from ml_assets.definitions import ALL_ASSETS, build_resources
from ml_assets.features import SERVING_COLUMNS
from ml_assets.warehouse import TEST_PAUSE_ENV
from ml_assets_examples.churn import generator
from ml_assets_tests import dagster_processes as procs
from ml_assets_tests.conftest import day, write_days

# Every test runs and kills a Python process: not part of `make test-fast`.
pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
RAW = AssetSelection.assets(["raw", "customer_snapshots"])
INGEST = RAW | AssetSelection.assets(["features", "customer_features"])
RETRAIN = AssetSelection.assets(
    ["training", "training_set"],
    ["training", "churn_model"],
    ["evaluation", "evaluation_report"],
    ["registry", "champion_model"],
)
# Small and quick: no search, few trees; a wide margin so the gate's decision is "promote"
# (the kill points below are on the promotion path).
RETRAIN_CONFIG = {
    "ops": {
        "training__training_set": {"config": {"window_days": 5}},
        "training__churn_model": {"config": {"max_iter": 30, "search": False}},
        "registry__champion_model": {
            "config": {
                "auc_margin": 1.0,
                "min_auc": 0.5,
                "max_brier": 0.5,
                "min_test_rows": 50,
                "min_test_positives": 5,
                "n_resamples": 100,
            }
        },
    }
}


def snapshot_rows(partition: str) -> pd.DataFrame:
    with duckdb.connect(str(settings.duckdb_path()), read_only=True) as con:
        return con.execute(
            "select * exclude (source_file) from raw.customer_snapshots "
            "where snapshot_date = ? order by customer_id",
            [partition],
        ).df()


def wait_for(marker: Path, proc: subprocess.Popen) -> None:
    """Wait for the pause point; give up only when the run's process group stops using CPU
    for a while (procs.Progress), never on a fixed wall time."""
    progress = procs.Progress(lambda: procs.group_cpu_seconds(proc.pid))
    while not marker.exists():
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(
                f"the run ended (code {proc.returncode}) before the pause point:\n{out[-4000:]}"
            )
        assert progress.advancing(), progress.describe("the run never reached the pause point")
        time.sleep(0.1)


def kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return  # it ended on its own; wait_for has said why
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def child_env(tmp_path: Path, **extra: str) -> dict:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    return dict(
        os.environ,
        DAGSTER_HOME=str(home),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    )


# --------------------------------------------------------------------------- the warehouse


@pytest.mark.parametrize(("phase", "expect"), [("after_delete", "old"), ("after_commit", "new")])
def test_sigkill_during_a_partition_write(project, tmp_path, phase, expect):
    landing = project / "landing"
    write_days(landing, 2, rows=300)
    assert materialize(
        ALL_ASSETS,
        selection=INGEST,
        resources=build_resources(),
        instance=DagsterInstance.ephemeral(),
        partition_key=day(0).isoformat(),
    ).success
    assert materialize(
        ALL_ASSETS,
        selection=RAW,
        resources=build_resources(),
        instance=DagsterInstance.ephemeral(),
        partition_key=day(1).isoformat(),
    ).success
    other_day = snapshot_rows(day(0).isoformat())
    old = snapshot_rows(day(1).isoformat())
    # A corrected file lands for day 1: other customers, other values.
    config = generator.GeneratorConfig(start=day(0), days=2, rows_per_day=250, seed=99)
    generator.write_landing_file(generator.generate_day(config, day(1))[0], landing, day(1))

    marker = tmp_path / "paused"
    proc = subprocess.Popen(
        [
            str(BIN / "dagster"),
            "asset",
            "materialize",
            "-m",
            "ml_assets.definitions",
            "--select",
            "raw/customer_snapshots",
            "--partition",
            day(1).isoformat(),
        ],
        env=child_env(tmp_path, **{TEST_PAUSE_ENV: f"{phase}:raw.customer_snapshots:{marker}"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(marker, proc)
    finally:
        kill_group(proc)

    # The file opens, and the day holds either all old rows or all new rows, nothing between.
    after = snapshot_rows(day(1).isoformat())
    if expect == "old":
        pd.testing.assert_frame_equal(after, old)
    else:
        assert len(after) == 250 and not set(after["customer_id"]) <= set(old["customer_id"])
    pd.testing.assert_frame_equal(snapshot_rows(day(0).isoformat()), other_day)

    # A rerun succeeds and leaves the new rows.
    assert materialize(
        ALL_ASSETS,
        selection=RAW,
        resources=build_resources(),
        instance=DagsterInstance.ephemeral(),
        partition_key=day(1).isoformat(),
    ).success
    rerun = snapshot_rows(day(1).isoformat())
    assert len(rerun) == 250
    if expect == "new":
        pd.testing.assert_frame_equal(rerun, after)
    pd.testing.assert_frame_equal(snapshot_rows(day(0).isoformat()), other_day)
    with duckdb.connect(str(settings.duckdb_path()), read_only=True) as con:
        assert con.execute("select count(*) from raw.customer_snapshots").fetchone() == (550,)


# --------------------------------------------------------------------------- MLflow

# Runs retrain_job in a child process with one MLflow call replaced by "create the marker
# file and wait to be killed". The patch lives in this test script, not in the project.
RETRAIN_CHILD = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    import mlflow
    from mlflow import MlflowClient
    from dagster import DagsterInstance, materialize
    from ml_assets.definitions import ALL_ASSETS, build_resources
    from ml_assets_tests.test_crash import RETRAIN, RETRAIN_CONFIG

    point, marker = sys.argv[1], Path(sys.argv[2])

    def pause(*args, **kwargs):
        marker.write_text("paused")
        time.sleep(300)

    if point == "register_version":
        # Artifacts logged, the registry about to record the new version.
        MlflowClient._create_model_version = pause
    elif point == "profile_artifact":
        # Called right after log_model registered the new version, for its reference profile.
        mlflow.log_artifact = pause
    elif point == "champion_alias":
        original = MlflowClient.set_registered_model_alias
        def set_alias(self, name, alias, version):
            if alias == "champion":
                pause()
            return original(self, name, alias, version)
        MlflowClient.set_registered_model_alias = set_alias
    result = materialize(ALL_ASSETS, selection=RETRAIN, resources=build_resources(),
                         instance=DagsterInstance.ephemeral(), run_config=RETRAIN_CONFIG)
    print("finished", result.success)
""")


def champion_scores(rows: pd.DataFrame) -> np.ndarray:
    """Score raw rows with models:/churn_model@champion through MLflow's generic loader."""
    import mlflow.pyfunc

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri())
    mlflow.set_registry_uri(settings.mlflow_tracking_uri())
    model = mlflow.pyfunc.load_model(f"models:/{settings.REGISTERED_MODEL_NAME}@champion")
    return np.asarray(model.predict(rows[SERVING_COLUMNS]))[:, 1]


def kill_retrain_at(point: str, tmp_path: Path) -> None:
    marker = tmp_path / f"paused-{point}"
    proc = subprocess.Popen(
        [sys.executable, "-c", RETRAIN_CHILD, point, str(marker)],
        env=child_env(tmp_path),
        cwd=str(settings.PROJECT_ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(marker, proc)
    finally:
        kill_group(proc)


@pytest.mark.slow
def test_sigkill_during_mlflow_logging_and_promotion_keeps_the_champion(project, tmp_path):
    write_days(project / "landing", 6, rows=300)
    instance = DagsterInstance.ephemeral()
    assert materialize(
        ALL_ASSETS,
        selection=INGEST,
        resources=build_resources(),
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": day(0).isoformat(),
            "dagster/asset_partition_range_end": day(5).isoformat(),
        },
    ).success
    assert materialize(
        ALL_ASSETS,
        selection=RETRAIN,
        resources=build_resources(),
        instance=instance,
        run_config=RETRAIN_CONFIG,
    ).success
    uri = settings.mlflow_tracking_uri()
    first = registry.alias_version(uri)
    assert first is not None and first.version == 1
    rows = snapshot_rows(day(5).isoformat())
    reference = champion_scores(rows)

    def assert_champion_is_first() -> None:
        champion = registry.alias_version(uri)
        assert champion is not None and champion.version == first.version
        np.testing.assert_array_equal(champion_scores(rows), reference)
        assert registry.load_profile(uri, champion)["model_version"] == first.version

    # 0. Killed while registering: the model's files are logged, no version recorded.
    kill_retrain_at("register_version", tmp_path)
    assert registry.latest_version(uri).version == 1
    assert_champion_is_first()

    # 1. Killed after version 2 was registered, before its reference profile was logged.
    kill_retrain_at("profile_artifact", tmp_path)
    assert registry.latest_version(uri).version == 2  # registered, but incomplete
    assert_champion_is_first()
    # Evaluating and gating without retraining refuses the incomplete version.
    gate_only = AssetSelection.assets(
        ["evaluation", "evaluation_report"], ["registry", "champion_model"]
    )
    result = materialize(
        ALL_ASSETS,
        selection=gate_only,
        resources=build_resources(),
        instance=instance,
        run_config={
            "ops": {"registry__champion_model": RETRAIN_CONFIG["ops"]["registry__champion_model"]}
        },
        raise_on_error=False,
    )
    assert not result.success
    failures = [
        str(e.event_specific_data.error)
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    assert any("Version 2 of churn_model is incomplete" in f for f in failures), failures
    assert_champion_is_first()

    # 2. Killed on the promotion path, just before the alias moves to version 3.
    kill_retrain_at("champion_alias", tmp_path)
    assert registry.latest_version(uri).version == 3
    assert_champion_is_first()
    # ... and version 3 carries no evidence of a promotion that never happened.
    from mlflow import MlflowClient

    tags = MlflowClient(uri).get_model_version(settings.REGISTERED_MODEL_NAME, "3").tags
    assert tags.get("gate_decision") != "promoted", tags

    # 3. A rerun completes: a new complete version becomes champion and loads.
    result = materialize(
        ALL_ASSETS,
        selection=RETRAIN,
        resources=build_resources(),
        instance=instance,
        run_config=RETRAIN_CONFIG,
    )
    assert result.success
    champion = registry.alias_version(uri)
    assert champion.version == 4
    assert registry.load_profile(uri, champion)["model_version"] == 4
    scores = champion_scores(rows)
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
