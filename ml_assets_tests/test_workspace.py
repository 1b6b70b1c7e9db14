"""Two datasets side by side: workspace.yaml loads churn and flights as two code locations.

The real webserver loads the workspace; its GraphQL API must show both asset graphs, each
complete, with no asset key in common. In-process, the two Definitions must not share a
warehouse file, an MLflow store, a registered model name, a landing folder or a table
reached through the same file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from ml_assets import settings
from ml_assets.dataset import load_spec

# Starts dagster-webserver over the workspace: not part of `make test-fast`.
pytestmark = pytest.mark.slow

ROOT = settings.PROJECT_ROOT
BIN = Path(sys.executable).parent
FLIGHTS_SPEC = ROOT / "ml_assets_examples" / "flights" / "spec.yaml"
ROLES = ("raw", "features", "training_set", "model", "evaluation", "champion", "predictions")
ROLES += ("drift",)

WORKSPACE = """
{
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError {
          __typename
          ... on PythonError { message }
          ... on RepositoryLocation {
            repositories {
              assetNodes { assetKey { path } }
              jobs { name }
              sensors { name sensorState { status } }
              schedules { name scheduleState { status } }
            }
          }
        }
      }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


def _wait_for_locations(base: str, proc: subprocess.Popen, log: Path) -> list[dict]:
    """Poll until both locations have finished loading (or the server dies)."""
    while True:
        if proc.poll() is not None:
            tail = log.read_text()[-3000:]
            raise AssertionError(f"webserver exited ({proc.returncode}):\n{tail}")
        try:
            entries = _graphql(base, WORKSPACE)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError):
            time.sleep(1)
            continue
        if len(entries) == 2 and all(e["locationOrLoadError"] for e in entries):
            return entries
        time.sleep(1)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, dict]:
    """``dagster-webserver -w workspace.yaml`` over a throw-away instance and data folders."""
    tmp = tmp_path_factory.mktemp("workspace")
    home = tmp / "dagster_home"
    home.mkdir()
    env = dict(
        os.environ,
        DAGSTER_HOME=str(home),
        ML_ASSETS_DATA_DIR=str(tmp / "data"),
        ML_ASSETS_FLIGHTS_DATA_DIR=str(tmp / "flights"),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    port, log = _free_port(), tmp / "webserver.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "dagster-webserver"),
                *("-w", str(ROOT / "workspace.yaml")),
                *("-h", "127.0.0.1", "-p", str(port)),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        entries = _wait_for_locations(f"http://127.0.0.1:{port}", proc, log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    out = {}
    for entry in entries:
        location = entry["locationOrLoadError"]
        assert location["__typename"] == "RepositoryLocation", (entry["name"], location)
        (repository,) = location["repositories"]
        out[entry["name"]] = repository
    return out


def _keys(repository: dict) -> set[tuple[str, ...]]:
    return {tuple(node["assetKey"]["path"]) for node in repository["assetNodes"]}


def test_the_workspace_shows_both_graphs_without_a_common_key(workspace):
    config = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    names = [entry["python_module"]["location_name"] for entry in config["load_from"]]
    assert set(workspace) == set(names) == {"ml_assets", "ml_assets_flights"}
    churn = load_spec(ROOT / "ml_assets_examples" / "churn" / "spec.yaml").names
    flights = load_spec(FLIGHTS_SPEC, prefix="flights").names
    churn_keys, flights_keys = _keys(workspace["ml_assets"]), _keys(workspace["ml_assets_flights"])
    assert churn_keys == {churn.asset_keys[r] for r in ROLES}
    assert ("raw", "customer_snapshots") in churn_keys  # the contract's keys, unprefixed
    assert flights_keys == {flights.asset_keys[r] for r in ROLES}
    assert all(key[0] == "flights" for key in flights_keys)
    assert not churn_keys & flights_keys
    for name, repository in workspace.items():
        assert {j["name"] for j in repository["jobs"]} >= {"ingest_job", "retrain_job"}
        assert {s["name"] for s in repository["sensors"]} == {"landing_sensor", "drift_sensor"}
        assert {s["name"] for s in repository["schedules"]} == {"weekly_retrain_schedule"}
        # The default dataset's automation runs; the second location's starts stopped, so a
        # daemon started for the default dataset never ingests the other's files.
        expected = "RUNNING" if name == "ml_assets" else "STOPPED"
        states = [s["sensorState"]["status"] for s in repository["sensors"]]
        states += [s["scheduleState"]["status"] for s in repository["schedules"]]
        assert set(states) == {expected}, (name, states)


def test_the_two_locations_share_no_file_store_or_model(monkeypatch, tmp_path):
    monkeypatch.setenv("ML_ASSETS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ML_ASSETS_FLIGHTS_DATA_DIR", str(tmp_path / "flights"))
    monkeypatch.delenv("ML_ASSETS_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from ml_assets.dataset import active_spec
    from ml_assets.locations import build_definitions
    from ml_assets_examples.flights import definitions as flights_location

    churn = build_definitions(active_spec())
    flights = build_definitions(
        load_spec(FLIGHTS_SPEC),
        prefix=flights_location.PREFIX,
        data_dir=flights_location.flights_data_dir(),
        partitions_start=flights_location.FIRST_DAY,
    )
    a, b = churn.resources, flights.resources
    assert a["warehouse"].database != b["warehouse"].database
    assert Path(b["warehouse"].database).is_relative_to(tmp_path / "flights")
    assert a["mlflow"].tracking_uri != b["mlflow"].tracking_uri
    assert a["mlflow"].artifact_root != b["mlflow"].artifact_root
    assert (a["mlflow"].model_name, b["mlflow"].model_name) == ("churn_model", "flights_model")
    assert a["landing"].directory != b["landing"].directory
    assert a["io_manager"].database != b["io_manager"].database
    # The flights partitions start with its data, the default with ML_ASSETS_PARTITIONS_START.
    flights_assets = {tuple(x.key.path): x for x in flights.assets}
    raw = flights_assets[("flights", "raw", "flight_snapshots")]
    assert raw.partitions_def.start.date().isoformat() == "2013-01-01"
