"""The registered champion served by `mlflow models serve`, checked against batch scoring."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from ml_assets import promotion, registry, settings
from ml_assets.definitions import ALL_ASSETS, build_resources
from ml_assets.features import SERVING_COLUMNS
from ml_assets_tests import dagster_processes as procs
from ml_assets_tests.conftest import day, write_days
from ml_assets_tests.test_pipeline import DAILY, INGEST, RETRAIN

# `mlflow models serve` and the ml-assets CLI run as processes: not part of `make test-fast`.
pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
FAST = {"ops": {"training__churn_model": {"config": {"search": False, "max_iter": 80}}}}


def ingest_eight_days():
    """Ingest days 0-7 as one range run; returns the instance and the resources used."""
    instance = DagsterInstance.ephemeral()
    resources = build_resources()
    tags = {
        "dagster/asset_partition_range_start": day(0).isoformat(),
        "dagster/asset_partition_range_end": day(7).isoformat(),
    }
    assert materialize(
        ALL_ASSETS, selection=INGEST, resources=resources, instance=instance, tags=tags
    ).success
    return instance, resources


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def served(project):
    write_days(project / "landing", 9, rows=400)
    instance, resources = ingest_eight_days()
    assert materialize(
        ALL_ASSETS, selection=RETRAIN, resources=resources, instance=instance, run_config=FAST
    ).success
    assert materialize(
        ALL_ASSETS,
        selection=DAILY,
        resources=resources,
        instance=instance,
        partition_key=day(8).isoformat(),
    ).success
    port = free_port()
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    server = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            "models:/churn_model@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Waits while the server process group still computes (loading the model); a stall
        # or an exit fails.
        progress = procs.Progress(lambda: procs.group_cpu_seconds(server.pid))
        while True:
            try:
                urllib.request.urlopen(f"{url}/ping", timeout=5)
                break
            except OSError:
                if server.poll() is not None or not progress.advancing():
                    raise AssertionError(
                        progress.describe("mlflow models serve did not answer /ping")
                        + server.stdout.read().decode()[-3000:]
                    ) from None
                time.sleep(0.5)
        yield url, instance
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def post(url: str, rows: pd.DataFrame) -> np.ndarray:
    payload = {
        "dataframe_split": json.loads(rows.to_json(orient="split", date_format="iso", index=False))
    }
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return np.asarray(json.load(response)["predictions"], dtype=float)


@pytest.mark.slow
def test_served_champion_matches_batch_scoring(served):
    url, _ = served
    with duckdb.connect(str(settings.duckdb_path()), read_only=True) as con:
        raw = con.execute(
            "select * from raw.customer_snapshots where snapshot_date = ?", [day(8)]
        ).df()
        batch = con.execute(
            "select customer_id, churn_probability from "
            "scoring.churn_predictions where snapshot_date = ?",
            [day(8)],
        ).df()
    rows = raw[SERVING_COLUMNS].head(100)
    started = time.perf_counter()
    served_proba = post(url, rows)[:, 1]
    latency = time.perf_counter() - started
    expected = batch.set_index("customer_id").loc[rows["customer_id"], "churn_probability"]
    np.testing.assert_allclose(served_proba, expected.to_numpy(), rtol=0, atol=1e-12)
    print(f"serving latency, 100 rows: {latency * 1000:.0f} ms")

    bad = rows.drop(columns=["monthly_charges"])
    with pytest.raises(urllib.error.HTTPError) as err:
        post(url, bad)
    assert err.value.code == 400

    # Values the landing rules refuse get HTTP 400 naming row, column and rule, not a score.
    broken = rows.head(3).copy()
    broken.loc[broken.index[1], "plan"] = "gold"
    broken.loc[broken.index[2], "monthly_charges"] = -71.5
    with pytest.raises(urllib.error.HTTPError) as err:
        post(url, broken)
    assert err.value.code == 400
    message = json.loads(err.value.read())["message"]
    assert "row 1, column plan: value 'gold' breaks rule 'isin(" in message
    assert "row 2, column monthly_charges: value -71.5 breaks rule 'greater_than_or_equal_to(0" in (
        message
    )
    assert "row 0," not in message
    # The same server still scores valid rows exactly as batch scoring did.
    np.testing.assert_allclose(
        post(url, rows.head(3))[:, 1], expected.to_numpy()[:3], rtol=0, atol=1e-12
    )


def test_rollback_swaps_champion_and_logs(project):
    write_days(project / "landing", 8, rows=400)
    instance, resources = ingest_eight_days()
    uri = settings.mlflow_tracking_uri()
    with pytest.raises(registry.RegistryError, match="Nothing to roll back"):
        promotion.rollback(uri, settings.duckdb_path())
    for _ in range(2):
        assert materialize(
            ALL_ASSETS, selection=RETRAIN, resources=resources, instance=instance, run_config=FAST
        ).success
    assert registry.alias_version(uri).version == 2
    done = subprocess.run([str(BIN / "ml-assets"), "rollback"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert registry.alias_version(uri).version == 1
    assert registry.alias_version(uri, registry.PREVIOUS_CHAMPION_ALIAS).version == 2
    with duckdb.connect(str(settings.duckdb_path()), read_only=True) as con:
        log = con.execute(
            "select action, challenger_version, champion_before, champion_after, "
            "promoted from registry.promotion_log order by decided_at"
        ).fetchall()
    assert log == [("gate", 1, None, 1, True), ("gate", 2, 1, 2, True), ("rollback", 1, 2, 1, True)]
