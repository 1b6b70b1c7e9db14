"""`ml-assets demo`: the whole lifecycle on the landing folder, driven by the real daemon.

1. The history (every landing day but the last ``live_days``, or the days up to
   ``--history-until``) is ingested as one run.
2. retrain_job trains and promotes the first model.
3. The Dagster daemon starts; landing_sensor requests one ingest run per remaining day,
   drift_sensor turns the drift in those days into a retrain run, and later days are scored
   by whichever model is champion by then.
4. When the instance has been quiet for a while, the daemon stops.
5. Optionally (``--live-until``), the days after it are replayed in this process: each day's
   ingest_job runs in the same instance, drift_sensor is evaluated on the instance as the
   daemon would, and the retrain runs it requests are executed here. The decisions are the
   same functions; only the scheduling of runs is skipped, which makes a long replay faster.
6. A summary prints.

Any code location works (``--location``, a module with ``defs``; default the default
location, ``ml_assets.definitions``). With ``--release-from``, landing files are copied day
by day from that folder into the location's landing folder (never overwriting), so the
sensors see each day arrive as it would in production.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_assets import settings
from ml_assets.dataset import DatasetSpec, active_spec
from ml_assets.landing import list_landing_files

DEFAULT_LOCATION = "ml_assets.definitions"
ACTIVE = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
DRIFT_SENSOR = "drift_sensor"


@dataclass(frozen=True)
class Location:
    """One code location the demo drives: its module, Definitions, dataset spec and paths."""

    module: str
    defs: Any
    spec: DatasetSpec
    paths: settings.DataPaths

    @property
    def raw_key(self) -> list[str]:
        return list(self.spec.names.raw)

    @property
    def landing_dir(self) -> Path:
        return self.paths.landing_dir


def load_location(module_name: str = DEFAULT_LOCATION) -> Location:
    """The location a module defines: ``defs``, and optionally ``SPEC`` (the spec as its keys
    are built, prefix included) and ``PATHS`` (its data paths); without them the active spec
    and the settings' paths, which is what the default location uses."""
    import importlib

    module = importlib.import_module(module_name)
    spec = getattr(module, "SPEC", None) or active_spec()
    paths = getattr(module, "PATHS", None) or settings.data_paths()
    return Location(module=module_name, defs=module.defs, spec=spec, paths=paths)


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


def ingest_history(instance, days: list[dt.date], loc: Location) -> None:
    """Ingest raw and features for the history days not yet ingested, in a single run."""
    from dagster import AssetKey, AssetSelection, materialize

    done = set(instance.get_materialized_partitions(AssetKey(loc.raw_key)))
    todo = [d for d in days if d.isoformat() not in done]
    if not todo:
        _say(f"history: all {len(days)} days already ingested")
        return
    start, end = todo[0].isoformat(), todo[-1].isoformat()
    _say(f"history: ingesting {start}..{end} as one run")
    result = materialize(
        list(loc.defs.assets or []),
        selection=AssetSelection.assets(loc.raw_key, list(loc.spec.names.features)),
        resources=dict(loc.defs.resources or {}),
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
            "ml_assets/trigger": "demo_history",
        },
    )
    if not result.success:
        raise SystemExit("history ingest failed; see the run in the UI (make ui)")


def train_first_model(instance, loc: Location) -> None:
    from ml_assets.registry import alias_version

    uri, model = loc.paths.mlflow_tracking_uri, loc.spec.names.model_name
    if alias_version(uri, model_name=model) is not None:
        _say("first model: a champion exists already")
        return
    _say("first model: running retrain_job (training set, model, evaluation, gate)")
    result = loc.defs.resolve_job_def("retrain_job").execute_in_process(
        instance=instance, tags={"ml_assets/trigger": "demo_bootstrap"}
    )
    if not result.success:
        raise SystemExit("the first retrain failed; see the run in the UI (make ui)")
    champion = alias_version(uri, model_name=model)
    _say(
        "first model: "
        + (f"version {champion.version} promoted" if champion else "refused by the gate")
    )


# Runs this command executes in its own process (the daemon's runs have their own workers).
IN_PROCESS_TRIGGERS = ("demo_history", "demo_bootstrap", "replay")


def fail_interrupted_runs(instance) -> int:
    """Mark as failed the runs an interrupted demo left started in its own process: that
    process is gone, so they never finish, and the wait for a quiet instance would wait on
    them forever. Returns how many were marked."""
    from dagster import DagsterRunStatus, RunsFilter

    statuses = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED]
    marked = 0
    for trigger in IN_PROCESS_TRIGGERS:
        for record in instance.get_run_records(
            RunsFilter(statuses=statuses, tags={"ml_assets/trigger": trigger})
        ):
            instance.report_run_failed(
                record.dagster_run, "an earlier ml-assets demo stopped while running it"
            )
            marked += 1
    return marked


def landing_state(files) -> dict[str, float]:
    """Each landing file's name and modification time: what landing_sensor decides on."""
    return {f.path.name: f.path.stat().st_mtime for f in files}


def _state_file(home: Path) -> Path:
    return home / "demo_state.json"


def nothing_new(home: Path, files, instance, expected_days: set[str], loc: Location) -> bool:
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
    ingested = set(instance.get_materialized_partitions(AssetKey(loc.raw_key)))
    return (
        recorded == landing_state(files)  # nothing landed since (or during) the last run
        and expected_days <= ingested
        and _active_runs(instance) == 0
    )


def _active_runs(instance) -> int:
    from dagster import DagsterRunStatus, RunsFilter

    statuses = [DagsterRunStatus[s] for s in ACTIVE]
    return len(instance.get_run_records(RunsFilter(statuses=statuses)))


def _sensor_ticked_since(instance, name: str, since: float) -> bool:
    """Whether sensor ``name`` has finished a tick that began at or after ``since``."""
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import TickStatus

    finished = [TickStatus.SUCCESS, TickStatus.SKIPPED, TickStatus.FAILURE]
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name == name:
            ticks = instance.get_ticks(
                state.instigator_origin_id, state.selector_id, after=since, statuses=finished
            )
            if ticks:
                return True
    return False


def _instance_progress(instance) -> tuple:
    """Moves whenever a run is created, logs an event or finishes anywhere in the instance."""
    from dagster import RunsFilter

    return (
        instance.event_log_storage.get_maximum_record_id(),
        instance.get_runs_count(RunsFilter()),
    )


def location_workspace(module_name: str, home: Path) -> Path:
    """A workspace file with only the location of this module (its name as in the project's
    ``workspace.yaml``), so the daemon runs the sensors of the dataset being demonstrated and
    not those of another dataset that shares the project (nor starts its code server)."""
    import yaml

    name = module_name.replace(".", "_")
    project = yaml.safe_load((settings.PROJECT_ROOT / "workspace.yaml").read_text()) or {}
    for entry in project.get("load_from", []):
        module = (entry or {}).get("python_module") or {}
        if isinstance(module, dict) and module.get("module_name") == module_name:
            name = module.get("location_name") or name
    path = home / f"workspace-{name}.yaml"
    entry = {"python_module": {"module_name": module_name, "location_name": name}}
    path.write_text(yaml.safe_dump({"load_from": [entry]}, sort_keys=False))
    return path


def run_daemon_until_quiet(
    instance, expected_days: set[str], stall_s: float, quiet_s: float, loc: Location
) -> None:
    """Start the daemon and wait until every day is ingested and no run is pending.

    There is no fixed time limit: a busy machine only makes the runs slower. The wait gives up
    when nothing has happened in the instance (no run created, no event logged) for
    ``stall_s`` seconds while days are still missing or runs are still pending.
    """
    from dagster import AssetKey

    env = dict(os.environ)
    env.setdefault("ML_ASSETS_SENSOR_INTERVAL", "2")
    # Launching a run asks the code server over gRPC, 60 s by default; on a loaded machine a
    # fresh code server takes longer than that and the run fails without starting.
    env.setdefault("DAGSTER_GRPC_TIMEOUT_SECONDS", "600")
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
            [daemon, "run", "-w", str(location_workspace(loc.module, Path(env["DAGSTER_HOME"])))],
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
            ingested = set(instance.get_materialized_partitions(AssetKey(loc.raw_key)))
            if reported is None:  # what the history already holds is not news
                reported = ingested & expected_days
            for day in sorted((ingested & expected_days) - reported):
                _say(f"ingested {day} ({len(ingested & expected_days)}/{len(expected_days)} days)")
                reported.add(day)
            missing = expected_days - ingested
            active = _active_runs(instance)
            if not missing and active == 0:
                quiet_since = quiet_since or time.time()
                # Done once drift_sensor has finished a tick that began after the last run
                # ended (it has read the last report and asked for nothing), or after
                # quiet_s when its ticks cannot be read.
                if _sensor_ticked_since(instance, "drift_sensor", quiet_since) or (
                    time.time() - quiet_since >= quiet_s
                ):
                    if _active_runs(instance) == 0:
                        return
                    quiet_since = None
            else:
                quiet_since = None
            time.sleep(1.0)
        done = set(instance.get_materialized_partitions(AssetKey(loc.raw_key)))
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


def release(source: Path, loc: Location, days: list[dt.date]) -> int:
    """Copy the landing files of ``days`` from ``source`` into the location's landing folder,
    as if they arrived; a file already there is never overwritten. Returns how many were
    copied."""
    by_day = {f.day: f.path for f in list_landing_files(source, loc.spec)}
    loc.landing_dir.mkdir(parents=True, exist_ok=True)
    copied = 0
    for day in days:
        path = by_day.get(day)
        if path is None:
            continue
        target = loc.landing_dir / path.name
        if target.exists():
            continue
        # Written under a temporary name and renamed: the sensor never sees half a file.
        partial = target.with_name(f".{target.name}.part")
        shutil.copyfile(path, partial)
        partial.rename(target)
        copied += 1
    return copied


def _replay_state(home: Path, loc: Location) -> Path:
    return home / f"replay_state-{loc.module.replace('.', '_')}.json"


def _daemon_drift_cursor(instance) -> str | None:
    """drift_sensor's cursor as the daemon left it, so the replay goes on from the events
    the daemon has already handled (their retrains are not requested twice)."""
    from dagster._core.definitions.run_request import InstigatorType

    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.name == DRIFT_SENSOR and state.instigator_data is not None:
            return getattr(state.instigator_data, "cursor", None)
    return None


def replay_days(
    instance, loc: Location, days: list[dt.date], source: Path | None, home: Path
) -> dict:
    """The days after the daemon's, in this process: each day arrives (``source``), its
    ingest_job runs in the same instance, then drift_sensor is evaluated on the instance and
    the retrain runs it requests are executed here, before the next day.

    The decisions are the daemon's (the same sensor function, cursor and run config); what
    is skipped is the daemon's scheduling of runs in their own processes. The sensor's cursor
    is kept in DAGSTER_HOME, so an interrupted replay goes on where it stopped.
    """
    from dagster import AssetKey, build_sensor_context

    ingest = loc.defs.resolve_job_def("ingest_job")
    retrain = loc.defs.resolve_job_def("retrain_job")
    sensor = loc.defs.resolve_sensor_def(DRIFT_SENSOR)
    state_path = _replay_state(home, loc)
    if state_path.exists():
        cursor = json.loads(state_path.read_text()).get("drift_cursor")
    else:
        cursor = _daemon_drift_cursor(instance)
    counts = {"days": 0, "retrains": 0}
    started = time.monotonic()
    for i, day in enumerate(days, 1):
        if source is not None:
            release(source, loc, [day])
        key = day.isoformat()
        if key not in set(instance.get_materialized_partitions(AssetKey(loc.raw_key))):
            if not any(f.day == day for f in list_landing_files(loc.landing_dir, loc.spec)):
                continue  # no landing file for this day
            result = ingest.execute_in_process(
                partition_key=key,
                instance=instance,
                tags={"ml_assets/trigger": "replay"},
                raise_on_error=False,
            )
            if not result.success:
                _say(f"replay: ingest of {key} failed (the file is refused or a step broke)")
            counts["days"] += 1
        context = build_sensor_context(instance=instance, cursor=cursor, definitions=loc.defs)
        outcome = sensor(context)
        requests = list(getattr(outcome, "run_requests", None) or [])
        cursor = getattr(outcome, "cursor", None) or cursor
        for request in requests:
            tags = {**request.tags, "dagster/sensor_name": DRIFT_SENSOR, "ml_assets/replay": "1"}
            _say(
                f"replay: drift on {tags.get('ml_assets/drift_partition')} "
                f"({tags.get('ml_assets/drifted_features') or tags.get('ml_assets/drift_kind')})"
                ": drift_sensor requests retrain_job"
            )
            result = retrain.execute_in_process(
                run_config=request.run_config, instance=instance, tags=tags, raise_on_error=False
            )
            counts["retrains"] += 1
            _say(f"replay: retrain {'done' if result.success else 'failed'}")
        state_path.write_text(json.dumps({"drift_cursor": cursor, "last_day": key}))
        if i % 7 == 0 or i == len(days):
            rate = (time.monotonic() - started) / max(i, 1)
            _say(f"replay: {key} done ({i}/{len(days)} days, {rate:.0f} s a day)")
    return counts


def _warehouse_of(loc: Location) -> str:
    """The location's warehouse: the lake or file its paths name, else its DuckDB file."""
    return getattr(loc.paths, "warehouse", "") or str(loc.paths.duckdb_path)


def summary(instance, loc: Location | None = None) -> dict:
    """Figures about the warehouse, the registry and the runs, for people and for tests."""
    from dagster import AssetKey, DagsterRunStatus, RunsFilter

    from ml_assets import registry, warehouse
    from ml_assets.evaluation import roc_auc

    loc = loc or load_location()
    uri = loc.paths.mlflow_tracking_uri
    model = loc.spec.names.model_name
    champion = registry.alias_version(uri, model_name=model)
    versions = registry.latest_version(uri, model_name=model)
    out: dict = {
        "days_ingested": len(instance.get_materialized_partitions(AssetKey(loc.raw_key))),
        "models_trained": versions.version if versions else 0,
        "champion_version": champion.version if champion else None,
        "profile": settings.profile(),
        "warehouse": warehouse.describe(_warehouse_of(loc)),
        "mlflow_tracking_uri": uri,
    }
    drift_runs = instance.get_run_records(RunsFilter(tags={"dagster/sensor_name": DRIFT_SENSOR}))
    out["drift_retrains"] = len(drift_runs)
    out["drift_retrains_succeeded"] = sum(
        r.dagster_run.status == DagsterRunStatus.SUCCESS for r in drift_runs
    )
    out["drift_days"] = sorted(
        {r.dagster_run.tags.get("ml_assets/drift_partition", "?") for r in drift_runs}
    )
    failed = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
    out["failed_runs"] = len(failed)
    spec = loc.spec
    names = spec.names

    def exists(table: str) -> bool:
        return warehouse.table_exists(con, *table.split(".", 1))

    with warehouse.connect(_warehouse_of(loc)) as con:
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
        truth = loc.paths.data_dir / "truth" / "truth.parquet"
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


def _iso_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def plan_days(
    days: list[dt.date],
    live_days: int,
    history_until: dt.date | None = None,
    live_until: dt.date | None = None,
    until: dt.date | None = None,
) -> tuple[list[dt.date], list[dt.date], list[dt.date]]:
    """Split the landing days into the history (one run), the daemon's days and the days
    replayed in process. Without ``history_until`` the history is all but the last
    ``live_days``; without ``live_until`` the daemon takes every day after the history."""
    days = sorted(d for d in days if until is None or d <= until)
    if not days:
        return [], [], []
    if history_until is not None:
        history = [d for d in days if d <= history_until]
    else:
        history = days[: len(days) - max(0, min(live_days, len(days) - 1))]
    rest = [d for d in days if d not in set(history)]
    live = [d for d in rest if live_until is None or d <= live_until]
    replay = [d for d in rest if live_until is not None and d > live_until]
    return history, live, replay


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ml-assets demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--live-days", type=int, default=7, help="last landing days left to the sensors (default 7)"
    )
    parser.add_argument(
        "--location",
        default=DEFAULT_LOCATION,
        help="the code location to run, a module with `defs` (and optionally SPEC and PATHS); "
        f"default {DEFAULT_LOCATION}",
    )
    parser.add_argument(
        "--release-from",
        type=Path,
        default=None,
        help="a folder of landing files to release into the location's landing folder day by "
        "day (never overwriting); default: use the landing folder as it is",
    )
    parser.add_argument(
        "--history-until", type=_iso_day, default=None, help="last day of the history run"
    )
    parser.add_argument(
        "--live-until",
        type=_iso_day,
        default=None,
        help="last day handled by the daemon; later days are replayed in this process",
    )
    parser.add_argument("--until", type=_iso_day, default=None, help="last day of the run")
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
        help="once every day is ingested and no run is pending, stop when drift_sensor has "
        "finished a tick after the last run, or after this many idle seconds (default 12)",
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
    loc = load_location(args.location)
    source = args.release_from
    if source is not None and not source.is_dir():
        parser.error(f"--release-from {source}: no such folder")
    files = list_landing_files(source or loc.landing_dir, loc.spec)
    if not files:
        parser.error(
            f"no landing files in {source or loc.landing_dir}; "
            "generate some with `ml-assets generate` or write a table with `ml-assets land`."
        )
    history, live, replay = plan_days(
        [f.day for f in files], args.live_days, args.history_until, args.live_until, args.until
    )
    if not history:
        parser.error("no history day: --history-until is before the first landing day")
    # Not $DAGSTER_HOME/logs: Dagster's telemetry owns that folder and empties it.
    log_path = home / "demo_logs" / f"demo-{time.strftime('%Y%m%d-%H%M%S')}.log"
    _say(f"details (step logs, warnings) go to {_shown(log_path)}")
    _say(
        f"{loc.module}: history {history[0]}..{history[-1]} ({len(history)} days)"
        + (f", daemon {live[0]}..{live[-1]} ({len(live)} days)" if live else "")
        + (f", in-process replay {replay[0]}..{replay[-1]} ({len(replay)} days)" if replay else "")
    )
    with details_to(log_path):
        import warnings

        # Dagster's beta/preview notices are for library authors; say each once, in the log.
        warnings.simplefilter("once")
        try:
            instance = _instance()
            if fail_interrupted_runs(instance):
                _say("marked the runs of an interrupted demo as failed; going on from there")
            expected = {d.isoformat() for d in history + live + replay}
            if source is not None:
                released = release(source, loc, history + live)
                if released:
                    _say(f"released {released} landing files into {_shown(loc.landing_dir)}")
            present = list_landing_files(loc.landing_dir, loc.spec)
            # Taken before the runs: a file landed during them makes the next run look again.
            state = landing_state(present)
            if nothing_new(home, present, instance, expected, loc):
                _say(
                    f"nothing new since the last run: all {len(expected)} days ingested and "
                    "the landing folder unchanged, so the daemon is not started"
                )
            else:
                _state_file(home).unlink(missing_ok=True)
                ingest_history(instance, history, loc)
                train_first_model(instance, loc)
                if live or not replay:
                    daemon_days = {d.isoformat() for d in history + live}
                    run_daemon_until_quiet(
                        instance, daemon_days, args.stall_seconds, args.quiet_seconds, loc
                    )
                if replay:
                    counts = replay_days(instance, loc, replay, source, home)
                    _say(
                        f"replay: {counts['days']} days ingested, {counts['retrains']} "
                        "retrain(s) requested by drift_sensor"
                    )
                if source is not None:
                    state = landing_state(list_landing_files(loc.landing_dir, loc.spec))
                _state_file(home).write_text(json.dumps(state))
            facts = summary(instance, loc)
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
