"""The real servers after a small lifecycle: `dagster dev` (webserver and daemon) read through
the GraphQL API the UI uses and in headless Chromium, and the MLflow tracking server through
its REST API.

Chromium is Debian's (`apt-get install chromium`, done by .ci/run), driven by Playwright for
Python; Playwright's own browser download is never used.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ml_assets import settings
from ml_assets_tests.small_lifecycle import served_lifecycle  # noqa: F401
from ml_assets_tests.test_definitions import CONTRACT_EDGES

# One xdist worker builds the shared lifecycle for these and test_lineage (make test uses
# --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.ui, pytest.mark.xdist_group("lifecycle")]
BIN = Path(sys.executable).parent
CONTRACT_ASSETS = {key for edge in CONTRACT_EDGES for key in edge}
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, log: Path) -> None:
    """Wait until ``url`` answers; give up when the server has neither answered, written to its
    log nor used CPU for a while (procs.Progress), never on a fixed wall time."""
    from ml_assets_tests import dagster_processes as procs

    progress = procs.Progress(lambda: (procs.file_progress(log), procs.group_cpu_seconds(proc.pid)))
    while progress.advancing():
        if proc.poll() is not None:
            raise AssertionError(
                f"{url}: server exited ({proc.returncode}):\n" + log.read_text()[-3000:]
            )
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError(
        progress.describe(f"{url} did not answer") + "\n" + log.read_text()[-3000:]
    )


def stop(proc: subprocess.Popen) -> None:
    """Stop a server and everything it started (its own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def ui_project(served_lifecycle) -> dict:  # noqa: F811
    """The session's small lifecycle: its folders and the environment to serve it."""
    life = served_lifecycle
    return {"root": life.root, "data": life.data, "home": life.home, "env": life.env}


# Session scope: pytest tears a module fixture down whenever the worker turns to another
# module, and xdist interleaves this module with test_lineage (same group), which started
# `dagster dev` two or three times (45 s each).
@pytest.fixture(scope="session")
def dagster_ui(ui_project) -> Iterator[str]:
    """`dagster dev` (webserver and daemon) over the lifecycle's instance and data."""
    port = free_port()
    log = ui_project["root"] / "dagster_dev.log"
    env = dict(
        os.environ,
        **ui_project["env"],
        # The daemon's sensors see a finished lifecycle: every landing day ingested,
        # and no budget for another drift retrain while the tests read.
        ML_ASSETS_RETRAIN_BUDGET="0",
        ML_ASSETS_SENSOR_INTERVAL="3600",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "dagster"),
                "dev",
                "-m",
                "ml_assets.definitions",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=ui_project["root"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/server_info", proc, log)
        yield base
    finally:
        stop(proc)


def graphql(base: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    assert "errors" not in body, body["errors"]
    return body["data"]


ASSET_NODES = """
{ assetNodes {
    assetKey { path } groupName description kinds opVersion
    dependencyKeys { path }
    owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    metadataEntries { label }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
} }
"""

LATEST = """
query latest($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    ... on Asset { assetMaterializations(limit: 1) { runId metadataEntries {
        label
        ... on FloatMetadataEntry { floatValue }
        ... on IntMetadataEntry { intValue }
        ... on TextMetadataEntry { text }
        ... on UrlMetadataEntry { url }
        ... on MarkdownMetadataEntry { mdStr }
        ... on BoolMetadataEntry { boolValue }
        ... on TableSchemaMetadataEntry { schema { columns { name } } }
        ... on TableColumnLineageMetadataEntry { lineage { columnName
            columnDeps { assetKey { path } columnName } } }
    } } }
  }
}
"""


def latest_metadata(base: str, key: str) -> dict:
    data = graphql(base, LATEST, {"path": key.split("/")})
    materializations = data["assetOrError"]["assetMaterializations"]
    assert materializations, f"{key} has no materialization"
    return {e["label"]: e for e in materializations[0]["metadataEntries"]}


def _warehouse(data: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_graphql_asset_graph_is_the_contract(dagster_ui, ui_project):
    nodes = {
        "/".join(n["assetKey"]["path"]): n for n in graphql(dagster_ui, ASSET_NODES)["assetNodes"]
    }
    assert set(nodes) == CONTRACT_ASSETS
    edges = {
        ("/".join(dep["path"]), key)
        for key, node in nodes.items()
        for dep in node["dependencyKeys"]
    }
    assert edges == CONTRACT_EDGES
    for key, node in nodes.items():
        assert node["groupName"] == key.split("/")[0], key
        assert len(node["description"] or "") > 40, key
        assert node["owners"] == [{"team": "ml-platform"}], key
        assert node["opVersion"], key
    kinds = {key: set(node["kinds"]) for key, node in nodes.items()}
    assert {"sklearn", "mlflow"} <= kinds["training/churn_model"]
    assert "mlflow" in kinds["registry/champion_model"]
    assert {"duckdb", "pandas"} <= kinds["raw/customer_snapshots"]
    assert "sklearn" in kinds["evaluation/evaluation_report"]
    checks = {
        key: {c["name"] for c in node["assetChecksOrError"].get("checks", [])}
        for key, node in nodes.items()
    }
    assert {"schema_matches", "rows_for_every_day"} <= checks["raw/customer_snapshots"]
    assert "no_feature_drift" in checks["monitoring/drift_report"]
    assert "lineage_recorded" in checks["scoring/churn_predictions"]

    # Column schema and lineage, as the stored tables have them.
    features = latest_metadata(dagster_ui, "features/customer_features")
    stored = [
        name
        for (name,) in _warehouse(
            ui_project["data"],
            "select column_name from information_schema.columns where "
            "table_schema = 'features' and table_name = 'customer_features' "
            "order by ordinal_position",
        )
    ]
    assert [c["name"] for c in features["dagster/column_schema"]["schema"]["columns"]] == stored
    lineage = {
        c["columnName"]: {(tuple(d["assetKey"]["path"]), d["columnName"]) for d in c["columnDeps"]}
        for c in features["dagster/column_lineage"]["lineage"]
    }
    raw = ("raw", "customer_snapshots")
    assert lineage["engagement_minutes_30d"] == {(raw, "logins_30d"), (raw, "avg_session_minutes")}
    assert (
        features["dagster/row_count"]["intValue"]
        == _warehouse(
            ui_project["data"],
            "select count(*) from features.customer_features where "
            "snapshot_date = (select max(snapshot_date) from features.customer_features)",
        )[0][0]
    )

    # The gate's decision and a link to the MLflow run, on the champion.
    gate = latest_metadata(dagster_ui, "registry/champion_model")
    assert gate["promoted"]["boolValue"] is True
    run_id = _warehouse(
        ui_project["data"],
        "select mlflow_run_id from lineage.model_lineage where model_version = 2",
    )[0][0]
    assert gate["challenger_mlflow_run"]["url"].endswith(f"/runs/{run_id}")
    assert "Promoted" in gate["decision"]["mdStr"]


def test_evaluation_metadata_equals_the_stored_report(dagster_ui, ui_project):
    meta = latest_metadata(dagster_ui, "evaluation/evaluation_report")
    stored = dict(
        _warehouse(
            ui_project["data"],
            "select metric, value from "
            "evaluation.evaluation_report where role = 'challenger' and "
            "segment_column = 'overall'",
        )
    )
    for metric in ("auc", "pr_auc", "brier", "log_loss"):
        assert meta[metric]["floatValue"] == pytest.approx(stored[metric], rel=1e-9), metric
    assert meta["plots"]["mdStr"].count("data:image/png;base64,") == 4
    assert meta["dagster/column_schema"]["schema"]["columns"][0]["name"] == "model_version"


def _browser(playwright):
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed: apt-get install -y chromium (.ci/run does)"
    return playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)


def _open(page, url: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(url, wait_until="domcontentloaded")
    # A new instance greets with a "Join the Dagster community" dialog that covers the page.
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=8000)
        skip.click()
    except PlaywrightTimeout:  # shown once per instance (and browser profile)
        pass


def test_browser_asset_graph_and_evaluation_page(dagster_ui, ui_project, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            _open(page, f"{dagster_ui}/asset-groups")
            expect(page.get_by_text("Global asset lineage")).to_be_visible(timeout=60_000)
            # One asset per group: the graph starts with groups collapsed; Alt+E expands all.
            expect(page.get_by_text("monitoring", exact=True).last).to_be_visible(timeout=60_000)
            page.keyboard.press("Alt+e")
            for key in sorted(CONTRACT_ASSETS):
                name = key.split("/")[1]
                expect(page.get_by_text(name, exact=True).first).to_be_visible(timeout=60_000)
            page.screenshot(path=tmp_path / "asset_graph.png")

            _open(page, f"{dagster_ui}/assets/evaluation/evaluation_report")
            stored = dict(
                _warehouse(
                    ui_project["data"],
                    "select metric, value from "
                    "evaluation.evaluation_report where role = 'challenger' "
                    "and segment_column = 'overall'",
                )
            )
            # The metadata table lists each headline metric with the stored value.
            for metric in ("auc", "pr_auc", "brier"):
                row = page.locator("tr").filter(has=page.get_by_text(metric, exact=True)).first
                expect(row).to_contain_text(repr(float(stored[metric])), timeout=60_000)
            page.screenshot(path=tmp_path / "evaluation_report.png", full_page=True)
            # The plots are markdown images; the UI folds long markdown behind a link.
            page.get_by_text("[Show Markdown]").first.click()
            plots = page.locator("img[src^='data:image/png']")
            expect(plots).to_have_count(4, timeout=30_000)
            expect(plots.first).to_be_visible()
            assert plots.first.evaluate("img => img.naturalWidth") > 100
            page.screenshot(path=tmp_path / "evaluation_plots.png")
        finally:
            browser.close()
    assert (tmp_path / "asset_graph.png").stat().st_size > 10_000
    assert (tmp_path / "evaluation_report.png").stat().st_size > 10_000
    assert (tmp_path / "evaluation_plots.png").stat().st_size > 10_000


def test_mlflow_server_rest_api(ui_project, tmp_path):
    """The server `make mlflow-ui` starts (same command) answers for runs and aliases."""
    port = free_port()
    log = tmp_path / "mlflow_ui.log"
    env = dict(
        os.environ,
        **ui_project["env"],
        MLFLOW_PORT=str(port),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    # `make mlflow-ui` itself, with the venv already built (make skips the install).
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "mlflow-ui"],
            cwd=settings.PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/health", proc, log)

        def api(path: str, payload: dict | None = None, method: str = "GET") -> dict:
            url = f"{base}/api/2.0/mlflow/{path}"
            data = None
            if method == "GET" and payload:
                url += "?" + urllib.parse.urlencode(payload)
            elif payload is not None:
                data = json.dumps(payload).encode()
            request = urllib.request.Request(
                url, data=data, method=method, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)

        experiment = api("experiments/get-by-name", {"experiment_name": settings.EXPERIMENT_NAME})[
            "experiment"
        ]
        runs = api(
            "runs/search",
            {"experiment_ids": [experiment["experiment_id"]], "max_results": 100},
            method="POST",
        )["runs"]
        by_id = {r["info"]["run_id"]: r for r in runs}
        recorded = dict(
            _warehouse(
                ui_project["data"], "select model_version, mlflow_run_id from lineage.model_lineage"
            )
        )
        assert set(recorded) == {1, 2}
        assert set(recorded.values()) <= set(by_id)
        drift_run = by_id[recorded[2]]
        tags = {t["key"]: t["value"] for t in drift_run["data"]["tags"]}
        assert tags["ml_assets.trigger"] == "drift"
        model = api("registered-models/get", {"name": "churn_model"})["registered_model"]
        aliases = {a["alias"]: int(a["version"]) for a in model["aliases"]}
        assert aliases == {"champion": 2, "previous_champion": 1}
        version = api("registered-models/alias", {"name": "churn_model", "alias": "champion"})[
            "model_version"
        ]
        assert version["run_id"] == recorded[2]
    finally:
        stop(proc)


CHECKS = """
{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks {
    name executionForLatestMaterialization { status } } } } } }
"""


def test_graphql_check_results_beside_their_assets(dagster_ui, ui_project):
    status = {
        ("/".join(n["assetKey"]["path"]), c["name"]): (
            c["executionForLatestMaterialization"] or {}
        ).get("status")
        for n in graphql(dagster_ui, CHECKS)["assetNodes"]
        for c in n["assetChecksOrError"].get("checks", [])
    }
    assert len(status) == 13
    drift = status.pop(("monitoring/drift_report", "no_feature_drift"))
    assert set(status.values()) == {"SUCCEEDED"}, status
    # The drift check warns exactly when the stored report has a drifted feature that day.
    drifted = _warehouse(
        ui_project["data"],
        "select bool_or(drifted) from "
        "monitoring.drift_report where snapshot_date = "
        "(select max(snapshot_date) from monitoring.drift_report)",
    )[0][0]
    assert drift == ("FAILED" if drifted else "SUCCEEDED")
