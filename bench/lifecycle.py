"""One whole lifecycle, through Dagster or as a bare script, in this process.

``python -m bench.lifecycle --mode dagster|bare --days N --chunk-days C ...`` runs, over the
landing files of ``$ML_ASSETS_DATA_DIR/landing``:

1. ingest: raw and features for every day, ``C`` days per run (a bounded backfill);
2. retrain: training set (a window of days), model (MLflow), evaluation, gate;
3. monitor: drift report and predictions for every day, ``C`` days per run.

``dagster`` materializes the project's assets with the real Definitions, resources, IO
manager and a persistent instance (``$DAGSTER_HOME``), in-process executor. ``bare`` calls
the same plain functions the assets call, with the same warehouse writes and MLflow logging,
and never imports Dagster. It prints one JSON line: seconds per phase and the champion.

The parent (:mod:`bench.run`) starts one process per lifecycle and reads its peak memory
from ``wait4``; run it by hand only to profile.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time

T0 = time.perf_counter()

RAW = ["raw", "customer_snapshots"]
FEATURES = ["features", "customer_features"]
DRIFT = ["monitoring", "drift_report"]
PREDICTIONS = ["scoring", "churn_predictions"]


def chunks(days: list[dt.date], size: int) -> list[tuple[dt.date, dt.date]]:
    return [(days[i], days[min(i + size, len(days)) - 1]) for i in range(0, len(days), size)]


def day_list(start: dt.date, n: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


# --------------------------------------------------------------------------- Dagster


def run_dagster(args: argparse.Namespace) -> dict:
    from dagster import AssetSelection, DagsterInstance, materialize

    from ml_assets.definitions import ALL_ASSETS, build_resources, defs

    instance = DagsterInstance.get()
    resources = build_resources()
    days = day_list(args.start, args.days)
    timings = {}

    def ranged(keys: list[list[str]], start: dt.date, end: dt.date) -> None:
        result = materialize(
            ALL_ASSETS,
            selection=AssetSelection.assets(*keys),
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
            },
        )
        if not result.success:
            raise SystemExit(f"run {keys} {start}..{end} failed")

    t = time.perf_counter()
    for start, end in chunks(days, args.chunk_days):
        ranged([RAW, FEATURES], start, end)
    timings["ingest_s"] = time.perf_counter() - t

    t = time.perf_counter()
    result = defs.resolve_job_def("retrain_job").execute_in_process(
        instance=instance,
        run_config={
            "ops": {
                "training__training_set": {"config": {"window_days": args.window_days}},
                "training__churn_model": {"config": {"search": args.search}},
            }
        },
    )
    if not result.success:
        raise SystemExit("retrain_job failed")
    timings["retrain_s"] = time.perf_counter() - t

    t = time.perf_counter()
    for start, end in chunks(days, args.chunk_days):
        ranged([DRIFT, PREDICTIONS], start, end)
    timings["monitor_s"] = time.perf_counter() - t
    return timings


# --------------------------------------------------------------------------- bare


def run_bare(args: argparse.Namespace) -> dict:
    from ml_assets import registry, settings, steps
    from ml_assets.drift import DriftRules, prepare_profile
    from ml_assets.warehouse import connect, read_rows, replace_rows

    db = settings.duckdb_path()
    days = day_list(args.start, args.days)
    timings = {}

    t = time.perf_counter()
    for start, end in chunks(days, args.chunk_days):
        bare_ingest(db, start, end)
    timings["ingest_s"] = time.perf_counter() - t

    t = time.perf_counter()
    bare_retrain(db, args.window_days, args.search)
    timings["retrain_s"] = time.perf_counter() - t

    t = time.perf_counter()
    uri = settings.mlflow_tracking_uri()
    champion = registry.alias_version(uri)
    pipeline = registry.load_pipeline(uri, champion)
    profile = prepare_profile(registry.load_profile(uri, champion))
    baseline_auc = registry.run_metric(uri, champion.run_id, "test_auc")
    for start, end in chunks(days, args.chunk_days):
        with connect(db) as con:
            features = read_rows(
                con, *FEATURES, partition_column="snapshot_date", partition_range=(start, end)
            )
        drift = steps.drift_days(features, profile, DriftRules(), champion.version).value
        predictions = steps.score_days(
            features,
            champion,
            uri,
            settings.performance_rules(),
            pipeline=pipeline,
            baseline_auc=baseline_auc,
        ).value
        with connect(db) as con:
            replace_rows(con, *DRIFT, drift, "snapshot_date", (start, end))
            replace_rows(con, *PREDICTIONS, predictions, "snapshot_date", (start, end))
    timings["monitor_s"] = time.perf_counter() - t
    assert "dagster" not in sys.modules, "the bare lifecycle imported dagster"
    return timings


def bare_ingest(db, start: dt.date, end: dt.date) -> None:
    """What the raw and features assets run, for a range of days."""
    from ml_assets import settings, steps
    from ml_assets.ingest import load_days
    from ml_assets.warehouse import connect, replace_rows

    snapshots = load_days(
        settings.landing_dir(), day_list(start, (end - start).days + 1), settings.partitions_start()
    )
    features = steps.build_features(snapshots).value
    with connect(db) as con:
        replace_rows(con, *RAW, snapshots, "snapshot_date", (start, end))
        replace_rows(con, *FEATURES, features, "snapshot_date", (start, end))


def bare_retrain(db, window_days: int, search: bool) -> None:
    """What retrain_job's four assets run: training set, model, evaluation, gate."""
    from ml_assets import registry, settings, steps
    from ml_assets.gate import GateRules
    from ml_assets.modelling import ModelParams
    from ml_assets.warehouse import connect, replace_rows

    uri, artifacts = settings.mlflow_tracking_uri(), settings.mlflow_artifact_root()
    features = steps.read_training_window(db, window_days)
    training_set = steps.make_training_set(features, window_days, 0.2).value
    with connect(db) as con:
        replace_rows(con, "training", "training_set", training_set)
    ref = steps.fit_and_register(
        training_set,
        ModelParams(),
        tracking_uri=uri,
        artifact_root=artifacts,
        experiment_name=settings.EXPERIMENT_NAME,
        database=db,
        search=search,
        code_version="bare",
    ).value
    test = steps.read_test_split(db)
    report = steps.evaluate(test, ref, registry.alias_version(uri), uri).value
    with connect(db) as con:
        replace_rows(con, "evaluation", "evaluation_report", report)
    steps.gate(report, test, GateRules(), tracking_uri=uri, database=db)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("dagster", "bare"), required=True)
    parser.add_argument("--start", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--chunk-days", type=int, required=True)
    parser.add_argument("--window-days", type=int, required=True)
    parser.add_argument("--search", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    timings = run_dagster(args) if args.mode == "dagster" else run_bare(args)
    from ml_assets import registry, settings

    champion = registry.alias_version(settings.mlflow_tracking_uri())
    timings["total_in_process_s"] = time.perf_counter() - T0
    print(
        json.dumps(
            {
                "mode": args.mode,
                **{k: round(v, 3) for k, v in timings.items()},
                "champion_version": champion.version if champion else None,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
