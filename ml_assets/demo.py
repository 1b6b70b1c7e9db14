"""`ml-assets demo`: the whole lifecycle on the landing folder, driven by the real daemon.

1. The history (every landing day but the last ``live_days``) is ingested as one run.
2. retrain_job trains and promotes the first model.
3. The Dagster daemon starts; landing_sensor requests one ingest run per remaining day,
   drift_sensor turns the drift in those days into a retrain run, and later days are scored
   by whichever model is champion by then.
4. When the instance has been quiet for a while, the daemon stops and a summary prints.

The terminal gets progress lines and the summary; everything else (Dagster's step logs,
warnings, MLflow's output) goes to a log file whose path the first line names. Running it
again is safe: finished steps are skipped and the sensors' cursors remember what they
handled.
"""

from __future__ import annotations

import argparse
import contextlib
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
from ml_assets.dataset import active_spec
from ml_assets.landing import list_landing_files

_NAMES = active_spec().names
RAW_KEY = list(_NAMES.raw)
DRIFT_KEY = list(_NAMES.drift)
ACTIVE = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")


# Where progress lines go: the terminal's stdout, kept aside while the details are redirected.
_TERMINAL_FD: int | None = None


def _say(message: str) -> None:
    line = f"[ml-assets demo {time.strftime('%H:%M:%S')}] {message}\n"
    if _TERMINAL_FD is None:
        print(line, end="", flush=True)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(_TERMINAL_FD, line.encode())
    # The same line in the log file, so the log reads in order.
    os.write(1, line.encode())


@contextlib.contextmanager
def details_to(log_path: Path):
    """Send file descriptors 1 and 2 (Dagster's step logs, warnings, progress bars, anything a
    library prints) to ``log_path`` while progress lines from ``_say`` still reach the
    terminal."""
    global _TERMINAL_FD
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        _TERMINAL_FD = saved_out
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            _TERMINAL_FD = None


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
        selection=AssetSelection.assets(RAW_KEY, list(_NAMES.features)),
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


def landing_state(files) -> dict[str, float]:
    """Each landing file's name and modification time: what landing_sensor decides on."""
    return {f.path.name: f.path.stat().st_mtime for f in files}


def _state_file(home: Path) -> Path:
    return home / "demo_state.json"


def nothing_new(home: Path, files, instance, expected_days: set[str]) -> bool:
    """True when the last demo ended quiet with every day ingested and the landing folder has
    not changed since (no new file, none landed again): the daemon would have nothing to do."""
    from dagster import AssetKey

    path = _state_file(home)
    if not path.exists():
        return False
    try:
        recorded = json.loads(path.read_text())
    except ValueError:
        return False
    ingested = set(instance.get_materialized_partitions(AssetKey(RAW_KEY)))
    return (
        recorded == landing_state(files)  # nothing landed since (or during) the last run
        and expected_days <= ingested
        and _active_runs(instance) == 0
    )


def _active_runs(instance) -> int:
    from dagster import DagsterRunStatus, RunsFilter

    statuses = [DagsterRunStatus[s] for s in ACTIVE]
    return len(instance.get_run_records(RunsFilter(statuses=statuses)))


def _instance_progress(instance) -> tuple:
    """Moves whenever a run is created, logs an event or finishes anywhere in the instance."""
    from dagster import RunsFilter

    return (
        instance.event_log_storage.get_maximum_record_id(),
        instance.get_runs_count(RunsFilter()),
    )


def run_daemon_until_quiet(
    instance, expected_days: set[str], stall_s: float, quiet_s: float
) -> None:
    """Start the daemon and wait until every day is ingested and no run is pending.

    There is no fixed time limit: a busy machine only makes the runs slower. The wait gives up
    when nothing has happened in the instance (no run created, no event logged) for
    ``stall_s`` seconds while days are still missing or runs are still pending.
    """
    from dagster import AssetKey

    env = dict(os.environ)
    env.setdefault("ML_ASSETS_SENSOR_INTERVAL", "5")
    daemon = shutil.which("dagster-daemon", path=str(Path(sys.executable).parent))
    if daemon is None:
        raise SystemExit("dagster-daemon is not installed in this environment; run `make venv`.")
    log_path = Path(env["DAGSTER_HOME"]) / "daemon.log"
    _say(
        f"daemon: starting (log {_shown(log_path)}); sensors tick every "
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
        last_progress, moved_at = _instance_progress(instance), time.monotonic()
        quiet_since = None
        reported: set[str] | None = None
        while True:
            progress = _instance_progress(instance)
            if progress != last_progress:
                last_progress, moved_at = progress, time.monotonic()
            elif time.monotonic() - moved_at > stall_s:
                break
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
            f"nothing happened in the Dagster instance for {stall_s:.0f} s while waiting for "
            f"the daemon's runs; days not ingested: {missing}; active runs: "
            f"{_active_runs(instance)}; see {log_path} and `make ui`"
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
        "profile": settings.profile(),
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
    spec = active_spec()
    names = spec.names

    def exists(table: str) -> bool:
        return warehouse.table_exists(con, *table.split(".", 1))

    with warehouse.connect(settings.warehouse()) as con:
        if champion is not None and exists(names.evaluation_table):
            row = con.execute(
                f"select value from {warehouse.qualified_name(names.evaluation_table)} "
                "where model_version = ? "
                "and segment_column = 'overall' and metric = 'auc'",
                [champion.version],
            ).fetchone()
            out["champion_test_auc"] = round(row[0], 4) if row else None
        out["drifted_days"] = (
            [
                str(r[0])
                for r in con.execute(
                    f"select distinct {warehouse.quoted(spec.date_column)} "
                    f"from {warehouse.qualified_name(names.drift_table)} where drifted order by 1"
                ).fetchall()
            ]
            if exists(names.drift_table)
            else []
        )
        if exists(names.predictions_table):
            out["predictions_by_model"] = {
                f"v{v}": n
                for v, n in con.execute(
                    "select model_version, count(distinct "
                    f"{warehouse.quoted(spec.date_column)}) from "
                    f"{warehouse.qualified_name(names.predictions_table)} group by 1 order by 1"
                ).fetchall()
            }
        # A generator's ground truth (p_true per id and day), when the landing files have one.
        truth = settings.truth_dir() / "truth.parquet"
        if truth.exists() and exists(names.training_table):
            import pandas as pd

            keys = [spec.id_column, spec.date_column]
            test = con.execute(
                f"select {warehouse.quoted(spec.id_column)}, "
                f"{warehouse.quoted(spec.date_column)}, {warehouse.quoted(spec.target.column)} "
                f"from {warehouse.qualified_name(names.training_table)} where split = 'test'"
            ).df()
            oracle = pd.read_parquet(truth)
            if set(keys) <= set(oracle.columns):
                oracle[spec.date_column] = pd.to_datetime(oracle[spec.date_column])
                joined = test.merge(oracle, on=keys, how="inner")
                if len(joined):
                    out["oracle_test_auc"] = round(
                        roc_auc(joined[spec.target.column].to_numpy(), joined["p_true"].to_numpy()),
                        4,
                    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ml-assets demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--live-days", type=int, default=7, help="last landing days left to the sensors (default 7)"
    )
    parser.add_argument(
        "--stall-seconds",
        "--timeout",
        dest="stall_seconds",
        type=float,
        default=300.0,
        help="give up when nothing has happened in the instance for this long while the "
        "daemon's runs are due (default 300; there is no limit on the total time)",
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
    home = Path(os.environ["DAGSTER_HOME"])
    ensure_instance(home)
    files = list_landing_files(settings.landing_dir())
    if not files:
        parser.error(
            f"no landing files in {settings.landing_dir()}; "
            "generate some with `ml-assets generate`."
        )
    live = max(0, min(args.live_days, len(files) - 1))
    history = [f.day for f in files[: len(files) - live]]
    # Not $DAGSTER_HOME/logs: Dagster's telemetry owns that folder and empties it.
    log_path = home / "demo_logs" / f"demo-{time.strftime('%Y%m%d-%H%M%S')}.log"
    _say(f"details (step logs, warnings) go to {_shown(log_path)}")
    with details_to(log_path):
        import warnings

        # Dagster's beta/preview notices are for library authors; say each once, in the log.
        warnings.simplefilter("once")
        try:
            instance = _instance()
            expected = {f.partition_key for f in files}
            # Taken before the runs: a file landed during them makes the next run look again.
            state = landing_state(files)
            if nothing_new(home, files, instance, expected):
                _say(
                    f"nothing new since the last run: all {len(expected)} days ingested and "
                    "the landing folder unchanged, so the daemon is not started"
                )
            else:
                _state_file(home).unlink(missing_ok=True)
                ingest_history(instance, history)
                train_first_model(instance)
                run_daemon_until_quiet(instance, expected, args.stall_seconds, args.quiet_seconds)
                _state_file(home).write_text(json.dumps(state))
            facts = summary(instance)
        except Exception as exc:
            import traceback

            traceback.print_exc()  # into the log file
            raise SystemExit(
                f"ml-assets demo failed: {_first_line(exc)}\nThe full traceback is in {log_path}."
            ) from None
        facts["wall_seconds"] = round(time.monotonic() - started, 1)
        facts["log_file"] = str(log_path)
        print(json.dumps(facts, indent=2))
    if args.summary_file:
        args.summary_file.write_text(json.dumps(facts, indent=2))
    print(_summary_text(facts))
    return 0 if facts["failed_runs"] == 0 else 1


def _first_line(exc: BaseException) -> str:
    """The innermost cause's message, first line: what went wrong, not the layers above it."""
    seen = []
    while exc is not None and exc not in seen and len(seen) < 20:
        seen.append(exc)
        exc = exc.__cause__ or getattr(exc, "user_exception", None) or exc.__context__
    for candidate in reversed(seen):
        text = str(candidate).strip()
        if text:
            return f"{type(candidate).__name__}: {text.splitlines()[0]}"
    return type(seen[0]).__name__


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is below it (shorter to read)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _summary_text(facts: dict) -> str:
    by_model = ", ".join(
        f"{n} by {v}" for v, n in (facts.get("predictions_by_model") or {}).items()
    )
    failed = (
        f"\n{facts['failed_runs']} run(s) failed; see `make ui` (Runs, filter by Failure)."
        if facts["failed_runs"]
        else ""
    )
    return (
        f"\nDone in {facts['wall_seconds']:.0f} s. Ingested {facts['days_ingested']} days; "
        f"trained {facts['models_trained']} models; champion is version "
        f"{facts['champion_version']} (test AUC {facts.get('champion_test_auc')}; the oracle "
        f"on the same rows {facts.get('oracle_test_auc')}).\n"
        f"Drift on {', '.join(facts['drifted_days']) or 'no day'}; "
        f"{facts['drift_retrains']} retrain(s) started by drift_sensor (for "
        f"{', '.join(facts['drift_days']) or 'no day'}).\n"
        f"Days scored: {by_model or 'none'}.{failed}\n"
        f"Warehouse: {facts['warehouse']}\nMLflow: {facts['mlflow_tracking_uri']}\n"
        f"Log: {facts['log_file']}\n"
        f"Browse it: `make ui` (Dagster, http://127.0.0.1:{settings.ui_port()}) and "
        f"`make mlflow-ui` (MLflow, http://127.0.0.1:{settings.mlflow_port()})."
    )


if __name__ == "__main__":
    sys.exit(main())
