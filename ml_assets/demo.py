"""`ml-assets demo`: the whole lifecycle on the landing folder, driven by the real daemon.

1. The history (every landing day but the last ``live_days``) is ingested as one run.
2. retrain_job trains and promotes the first model.
3. The Dagster daemon starts; landing_sensor requests one ingest run per remaining day,
   drift_sensor turns the drift in those days into a retrain run, and later days are scored
   by whichever model is champion by then.
4. When the instance has been quiet for a while, the daemon stops and a summary prints.

Running it again is safe: finished steps are skipped and the sensors' cursors remember
what they handled.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ml_assets import settings
from ml_assets.landing import list_landing_files

RAW_KEY = ["raw", "customer_snapshots"]
DRIFT_KEY = ["monitoring", "drift_report"]
ACTIVE = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")


def _say(message: str) -> None:
    print(f"[ml-assets demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_instance(home: Path) -> None:
    """Create DAGSTER_HOME with the project's instance settings if it has none."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(settings.PROJECT_ROOT / "config" / "dagster.yaml", target)


def _instance():
    from dagster import DagsterInstance

    return DagsterInstance.get()


def ingest_history(instance, days: list[dt.date]) -> None:
    """Ingest raw and features for the history days not yet ingested, in a single run."""
    from dagster import AssetKey, AssetSelection, materialize

    from ml_assets.definitions import ALL_ASSETS, build_resources

    done = set(instance.get_materialized_partitions(AssetKey(RAW_KEY)))
    todo = [d for d in days if d.isoformat() not in done]
    if not todo:
        _say(f"history: all {len(days)} days already ingested")
        return
    start, end = todo[0].isoformat(), todo[-1].isoformat()
    _say(f"history: ingesting {start}..{end} as one run")
    result = materialize(
        ALL_ASSETS,
        selection=AssetSelection.assets(RAW_KEY, ["features", "customer_features"]),
        resources=build_resources(),
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
            "ml_assets/trigger": "demo_history",
        },
    )
    if not result.success:
        raise SystemExit("history ingest failed; see the run in the UI (make ui)")


def train_first_model(instance) -> None:
    from ml_assets.definitions import defs
    from ml_assets.registry import alias_version

    if alias_version(settings.mlflow_tracking_uri()) is not None:
        _say("first model: a champion exists already")
        return
    _say("first model: running retrain_job (training set, model, evaluation, gate)")
    result = defs.resolve_job_def("retrain_job").execute_in_process(
        instance=instance, tags={"ml_assets/trigger": "demo_bootstrap"}
    )
    if not result.success:
        raise SystemExit("the first retrain failed; see the run in the UI (make ui)")


def _active_runs(instance) -> int:
    from dagster import DagsterRunStatus, RunsFilter

    statuses = [DagsterRunStatus[s] for s in ACTIVE]
    return len(instance.get_run_records(RunsFilter(statuses=statuses)))


def run_daemon_until_quiet(
    instance, expected_days: set[str], timeout_s: float, quiet_s: float
) -> None:
    """Start the daemon and wait until every day is ingested and no run is pending."""
    from dagster import AssetKey

    env = dict(os.environ)
    env.setdefault("ML_ASSETS_SENSOR_INTERVAL", "5")
    daemon = shutil.which("dagster-daemon", path=str(Path(sys.executable).parent))
    if daemon is None:
        raise SystemExit("dagster-daemon is not installed in this environment; run `make venv`.")
    log_path = Path(env["DAGSTER_HOME"]) / "daemon.log"
    _say(
        f"daemon: starting (log {log_path}); sensors tick every "
        f"{env['ML_ASSETS_SENSOR_INTERVAL']} s"
    )
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [daemon, "run", "-w", str(settings.PROJECT_ROOT / "workspace.yaml")],
            cwd=settings.PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout_s
        quiet_since = None
        reported: set[str] | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the daemon exited with {proc.returncode}; see {log_path}")
            ingested = set(instance.get_materialized_partitions(AssetKey(RAW_KEY)))
            if reported is None:  # what the history already holds is not news
                reported = ingested & expected_days
            for day in sorted((ingested & expected_days) - reported):
                _say(f"ingested {day} ({len(ingested & expected_days)}/{len(expected_days)} days)")
                reported.add(day)
            missing = expected_days - ingested
            active = _active_runs(instance)
            if not missing and active == 0:
                quiet_since = quiet_since or time.monotonic()
                # Quiet for a few sensor intervals: drift_sensor has seen the last report.
                if time.monotonic() - quiet_since >= quiet_s:
                    return
            else:
                quiet_since = None
            time.sleep(1.0)
        done = set(instance.get_materialized_partitions(AssetKey(RAW_KEY)))
        missing = sorted(expected_days - done)
        raise SystemExit(
            f"timed out after {timeout_s:.0f} s waiting for the daemon's runs; "
            f"days not ingested: {missing}; see {log_path} and `make ui`"
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        _say("daemon: stopped")


def summary(instance) -> dict:
    """Figures about the warehouse, the registry and the runs, for people and for tests."""
    from dagster import AssetKey, DagsterRunStatus, RunsFilter

    from ml_assets import registry, warehouse
    from ml_assets.evaluation import roc_auc

    uri = settings.mlflow_tracking_uri()
    champion = registry.alias_version(uri)
    versions = registry.latest_version(uri)
    out: dict = {
        "days_ingested": len(instance.get_materialized_partitions(AssetKey(RAW_KEY))),
        "models_trained": versions.version if versions else 0,
        "champion_version": champion.version if champion else None,
        "warehouse": warehouse.describe(settings.warehouse()),
        "mlflow_tracking_uri": uri,
    }
    drift_runs = instance.get_run_records(RunsFilter(tags={"dagster/sensor_name": "drift_sensor"}))
    out["drift_retrains"] = len(drift_runs)
    out["drift_retrains_succeeded"] = sum(
        r.dagster_run.status == DagsterRunStatus.SUCCESS for r in drift_runs
    )
    out["drift_days"] = sorted(
        {r.dagster_run.tags.get("ml_assets/drift_partition", "?") for r in drift_runs}
    )
    failed = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
    out["failed_runs"] = len(failed)
    with warehouse.connect(settings.warehouse()) as con:
        if champion is not None and warehouse.table_exists(con, "evaluation", "evaluation_report"):
            row = con.execute(
                "select value from evaluation.evaluation_report where model_version = ? "
                "and segment_column = 'overall' and metric = 'auc'",
                [champion.version],
            ).fetchone()
            out["champion_test_auc"] = round(row[0], 4) if row else None
        out["drifted_days"] = (
            [
                str(r[0])
                for r in con.execute(
                    "select distinct snapshot_date from monitoring.drift_report where drifted "
                    "order by 1"
                ).fetchall()
            ]
            if warehouse.table_exists(con, "monitoring", "drift_report")
            else []
        )
        if warehouse.table_exists(con, "scoring", "churn_predictions"):
            out["predictions_by_model"] = {
                f"v{v}": n
                for v, n in con.execute(
                    "select model_version, count(distinct snapshot_date) from "
                    "scoring.churn_predictions group by 1 order by 1"
                ).fetchall()
            }
        truth = settings.truth_dir() / "truth.parquet"
        if truth.exists() and warehouse.table_exists(con, "training", "training_set"):
            import pandas as pd

            test = con.execute(
                "select customer_id, snapshot_date, churned from "
                "training.training_set where split = 'test'"
            ).df()
            oracle = pd.read_parquet(truth)
            oracle["snapshot_date"] = pd.to_datetime(oracle["snapshot_date"])
            joined = test.merge(oracle, on=["customer_id", "snapshot_date"], how="inner")
            if len(joined):
                out["oracle_test_auc"] = round(
                    roc_auc(joined["churned"].to_numpy(), joined["p_true"].to_numpy()), 4
                )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ml-assets demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--live-days", type=int, default=7, help="last landing days left to the sensors (default 7)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=420.0,
        help="seconds to wait for the daemon's runs (default 420)",
    )
    parser.add_argument(
        "--quiet-seconds",
        type=float,
        default=12.0,
        help="how long the instance must be idle before stopping (default 12)",
    )
    parser.add_argument(
        "--summary-file",
        type=Path,
        default=None,
        help="also write the summary as JSON to this file",
    )
    args = parser.parse_args(argv)
    if not os.environ.get("DAGSTER_HOME"):
        parser.error("DAGSTER_HOME is not set; run this through `make run`.")
    started = time.monotonic()
    ensure_instance(Path(os.environ["DAGSTER_HOME"]))
    files = list_landing_files(settings.landing_dir())
    if not files:
        parser.error(
            f"no landing files in {settings.landing_dir()}; "
            "generate some with `ml-assets generate`."
        )
    live = max(0, min(args.live_days, len(files) - 1))
    history = [f.day for f in files[: len(files) - live]]
    instance = _instance()
    ingest_history(instance, history)
    train_first_model(instance)
    run_daemon_until_quiet(
        instance, {f.partition_key for f in files}, args.timeout, args.quiet_seconds
    )
    facts = summary(instance)
    facts["wall_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(facts, indent=2))
    if args.summary_file:
        args.summary_file.write_text(json.dumps(facts, indent=2))
    print(
        f"\nIngested {facts['days_ingested']} days; trained {facts['models_trained']} models; "
        f"champion is version {facts['champion_version']} (test AUC "
        f"{facts.get('champion_test_auc')}; oracle on the same rows "
        f"{facts.get('oracle_test_auc')}); "
        f"{facts['drift_retrains']} retrain(s) started by drift_sensor for drift on "
        f"{', '.join(facts['drift_days']) or 'no day'}.\n"
        f"Warehouse: {facts['warehouse']}\nMLflow: {facts['mlflow_tracking_uri']}\n"
        "Browse it: `make ui` (Dagster, http://127.0.0.1:3000) and `make mlflow-ui` "
        "(http://127.0.0.1:5000)."
    )
    return 0 if facts["failed_runs"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
