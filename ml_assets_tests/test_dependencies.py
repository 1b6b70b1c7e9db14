"""Dependencies failing: the MLflow store unreachable or read-only, the warehouse disk full.

Each failure must give a clear error after bounded retries, leave the champion and the
earlier data as they were, and let a rerun succeed once the dependency is back. The
read-only store and the full disk are real: a read-only bind mount and a small tmpfs, each
in a private mount namespace (``unshare``), so nothing outside the test sees them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from ml_assets import registry, settings
from ml_assets.definitions import ALL_ASSETS, build_resources
from ml_assets_tests import dagster_processes as procs
from ml_assets_tests.conftest import day, write_days
from ml_assets_tests.dagster_processes import free_port

# Retrains with the gate (its smoke test is a fresh process) and namespaces: not part of
# `make test-fast`.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dependencies")]  # module fixtures

INGEST = AssetSelection.assets(["raw", "customer_snapshots"], ["features", "customer_features"])
DAILY = INGEST | AssetSelection.assets(
    ["monitoring", "drift_report"], ["scoring", "churn_predictions"]
)
RETRAIN = AssetSelection.groups("training", "evaluation", "registry")
LIGHT_RETRAIN = {
    "ops": {
        "training__training_set": {"config": {"window_days": 20}},
        "training__churn_model": {"config": {"max_iter": 60, "search": False}},
    }
}
HISTORY = 28  # days 0..27 ingested before the tests; 28, 29 are left for them
ROWS = 200
# With the resource's bounds (3 retries, backoff factor 1) a refused connection gives up
# within seconds; MLflow's own defaults (7 retries, factor 2) take about four minutes.
BOUNDED_S = 60


def _run(selection, partition_key=None, days=None, run_config=None):
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
        instance=DagsterInstance.ephemeral(),
        partition_key=partition_key,
        tags=tags,
        run_config=run_config,
        raise_on_error=False,
    )


def _failures(result) -> dict[str, str]:
    """Step key -> the whole failure text (message and causes)."""
    out = {}
    for event in result.get_step_failure_events():
        error, parts = event.step_failure_data.error, []
        while error is not None:
            parts.append(error.message)
            error = error.cause or error.context
        out[event.step_key] = " | ".join(parts)
    return out


def _mlflow_state(uri: str) -> tuple[int | None, int | None]:
    champion, latest = registry.alias_version(uri), registry.latest_version(uri)
    return (champion.version if champion else None, latest.version if latest else None)


def _daily_counts(database: Path, day_: dt.date) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as con:
        return {
            table: con.execute(
                f"select count(*) from {table} where snapshot_date = ?", [day_]
            ).fetchone()[0]
            for table in (
                "raw.customer_snapshots",
                "features.customer_features",
                "monitoring.drift_report",
                "scoring.churn_predictions",
            )
        }


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mlflow_template):
    """A project with 28 days ingested and scored, and a champion (version 1)."""
    patch = pytest.MonkeyPatch()
    data = tmp_path_factory.mktemp("dependencies") / "data"
    (data / "mlflow").mkdir(parents=True)
    shutil.copyfile(mlflow_template, data / "mlflow" / "mlflow.db")
    patch.setenv("ML_ASSETS_DATA_DIR", str(data))
    patch.setenv("ML_ASSETS_DUCKDB_PATH", str(data / "warehouse.duckdb"))
    patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{data / 'mlflow' / 'mlflow.db'}")
    patch.setenv("ML_ASSETS_MLFLOW_ARTIFACTS", str(data / "mlflow" / "artifacts"))
    write_days(data / "landing", HISTORY + 2, rows=ROWS)
    assert _run(INGEST, days=(day(0), day(HISTORY - 1))).success
    assert _run(RETRAIN, run_config=LIGHT_RETRAIN).success
    assert _run(DAILY, days=(day(HISTORY - 1), day(HISTORY - 1))).success
    yield data
    patch.undo()


@pytest.fixture()
def clean_http_env(monkeypatch):
    """No MLFLOW_HTTP_REQUEST_* from the outside: the resource's bounds apply (and are undone)."""
    for name in registry.HTTP_ENV.values():
        monkeypatch.delenv(name, raising=False)


def test_retrain_with_mlflow_server_unreachable_fails_fast_and_keeps_champion(
    trained, monkeypatch, clean_http_env
):
    store = settings.mlflow_tracking_uri()
    before = _mlflow_state(store)
    assert before == (1, 1)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    started = time.monotonic()
    result = _run(RETRAIN, run_config=LIGHT_RETRAIN)
    took = time.monotonic() - started
    print(f"retrain against an unreachable server failed after {took:.1f} s")
    failures = _failures(result)
    assert not result.success
    assert set(failures) == {"training__churn_model"}, failures
    message = failures["training__churn_model"]
    assert f"The MLflow tracking server {dead} did not answer" in message
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES=3" in message and "champion is unchanged" in message
    # Downstream of the model never ran: no evaluation, no gate.
    executed = {e.step_key for e in result.get_step_success_events()}
    assert executed == {"training__training_set"}
    assert took < BOUNDED_S, f"gave up only after {took:.0f} s"
    # The real store (the one the server would serve) still has the same champion.
    assert _mlflow_state(store) == before


def test_ingest_with_mlflow_server_unreachable_fails_drift_and_scoring_clearly(
    trained, monkeypatch, clean_http_env
):
    target = day(HISTORY)
    earlier = _daily_counts(settings.duckdb_path(), day(HISTORY - 1))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    result = _run(DAILY, partition_key=target.isoformat())
    took = time.monotonic() - started
    print(f"ingest against an unreachable server failed after {took:.1f} s")
    failures = _failures(result)
    # Without a reachable registry there is no "no champion yet, skipped": the steps that
    # need the champion fail and say why; the ones that do not need it still succeed.
    assert set(failures) == {"monitoring__drift_report", "scoring__churn_predictions"}, failures
    assert all("did not answer after bounded retries" in m for m in failures.values())
    assert took < BOUNDED_S * 2, f"gave up only after {took:.0f} s"
    counts = _daily_counts(settings.duckdb_path(), target)
    assert counts["raw.customer_snapshots"] == ROWS
    assert counts["monitoring.drift_report"] == 0 and counts["scoring.churn_predictions"] == 0
    assert _daily_counts(settings.duckdb_path(), day(HISTORY - 1)) == earlier


def _namespace_available() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


needs_namespace = pytest.mark.skipif(
    not _namespace_available(),
    reason="needs `unshare -rm` (a private mount namespace) to mount a read-only or small "
    "filesystem without touching the machine",
)


def _in_namespace(mount: str, scenario: str, out: Path, *args: str) -> dict:
    """Run ``scenario`` of this module in a child process behind ``mount`` (shell)."""
    command = (
        f"{mount} && exec {sys.executable} -m ml_assets_tests.test_dependencies "
        f"{scenario} {out} {' '.join(args)}"
    )
    done = procs.run(["unshare", "-rm", "sh", "-c", command], cwd=settings.PROJECT_ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


@needs_namespace
@pytest.mark.slow
def test_mlflow_store_read_only_scores_but_refuses_to_train_and_keeps_champion(trained, tmp_path):
    store = settings.mlflow_tracking_uri()
    before = _mlflow_state(store)
    mlflow_dir = trained / "mlflow"
    mount = f"mount --bind {mlflow_dir} {mlflow_dir} && mount -o remount,ro,bind {mlflow_dir}"
    outcome = _in_namespace(mount, "read_only", tmp_path / "out.json", day(HISTORY + 1).isoformat())
    # Scoring only reads the registry: the day is ingested, drift-checked and scored.
    assert outcome["ingest_failures"] == {}
    assert outcome["counts"]["scoring.churn_predictions"] == ROWS
    # Training must write: it fails at the model, with a message saying so.
    assert list(outcome["retrain_failures"]) == ["training__churn_model"]
    message = outcome["retrain_failures"]["training__churn_model"]
    assert f"The MLflow store {store} cannot be written" in message
    assert "attempt to write a readonly database" in message
    assert _mlflow_state(store) == before


@needs_namespace
@pytest.mark.slow
def test_warehouse_disk_full_fails_clearly_and_keeps_earlier_rows(project, tmp_path):
    write_days(project / "landing", 10, rows=ROWS)
    small = tmp_path / "small_disk"
    small.mkdir()
    mount = f"mount -t tmpfs -o size=8m tmpfs {small}"
    outcome = _in_namespace(mount, "disk_full", tmp_path / "out.json", str(small))
    assert outcome["first"] == {"success": True, "failures": {}}
    assert outcome["full"]["success"] is False
    failures = outcome["full"]["failures"]
    assert list(failures) == ["raw__customer_snapshots"], failures
    message = failures["raw__customer_snapshots"]
    assert "The disk holding the warehouse" in message and "No space left on device" in message
    assert "earlier rows are unchanged" in message
    expected_first = {day(i).isoformat(): ROWS for i in range(5)}
    assert outcome["counts_before"] == {"raw": expected_first, "features": expected_first}
    assert outcome["counts_after_failure"] == outcome["counts_before"]
    # Space freed: the same run succeeds and the table holds every day once.
    assert outcome["rerun"] == {"success": True, "failures": {}}
    expected_all = {day(i).isoformat(): ROWS for i in range(10)}
    assert outcome["counts_after_rerun"] == {"raw": expected_all, "features": expected_all}


# --- child processes, run inside a private mount namespace -------------------------------


def _counts_by_day(database: Path) -> dict[str, dict[str, int]]:
    with duckdb.connect(str(database), read_only=True) as con:
        return {
            name: {
                str(d): n
                for d, n in con.execute(
                    f"select snapshot_date, count(*) from {table} group by 1 order by 1"
                ).fetchall()
            }
            for name, table in (
                ("raw", "raw.customer_snapshots"),
                ("features", "features.customer_features"),
            )
        }


def _outcome(result) -> dict:
    return {"success": result.success, "failures": _failures(result)}


def _child_read_only(out: Path, partition: str) -> None:
    ingest = _run(DAILY, partition_key=partition)
    retrain = _run(RETRAIN, run_config=LIGHT_RETRAIN)
    out.write_text(
        json.dumps(
            {
                "ingest_failures": _failures(ingest),
                "counts": _daily_counts(settings.duckdb_path(), dt.date.fromisoformat(partition)),
                "retrain_failures": _failures(retrain),
            }
        )
    )


def _child_disk_full(out: Path, small: str) -> None:
    database = Path(small) / "warehouse.duckdb"
    os.environ["ML_ASSETS_DUCKDB_PATH"] = str(database)
    facts = {"first": _outcome(_run(INGEST, days=(day(0), day(4))))}
    facts["counts_before"] = _counts_by_day(database)
    filler = Path(small) / "filler"
    with open(filler, "wb") as fh:  # fill the disk to the last byte
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    facts["full"] = _outcome(_run(INGEST, days=(day(5), day(9))))
    facts["counts_after_failure"] = _counts_by_day(database)
    filler.unlink()
    facts["rerun"] = _outcome(_run(INGEST, days=(day(5), day(9))))
    facts["counts_after_rerun"] = _counts_by_day(database)
    out.write_text(json.dumps(facts))


if __name__ == "__main__":
    scenario, out_path, *rest = sys.argv[1:]
    {"read_only": _child_read_only, "disk_full": _child_disk_full}[scenario](Path(out_path), *rest)
