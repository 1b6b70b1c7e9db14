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
    from ml_assets import settings
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
    from ml_assets import registry

    uri = settings.mlflow_tracking_uri()
    champion = registry.alias_version(uri)
    pipeline = registry.load_pipeline(uri, champion)
    from ml_assets.drift import prepare_profile

    profile = prepare_profile(registry.load_profile(uri, champion))
    baseline_auc = registry.run_metric(uri, champion.run_id, "test_auc")
    for start, end in chunks(days, args.chunk_days):
        with connect(db) as con:
            features = read_rows(
                con, *FEATURES, partition_column="snapshot_date", partition_range=(start, end)
            )
        drift = bare_drift(features, profile, champion.version)
        predictions = bare_scoring(features, pipeline, champion, baseline_auc)
        with connect(db) as con:
            replace_rows(con, *DRIFT, drift, "snapshot_date", (start, end))
            replace_rows(con, *PREDICTIONS, predictions, "snapshot_date", (start, end))
    timings["monitor_s"] = time.perf_counter() - t
    assert "dagster" not in sys.modules, "the bare lifecycle imported dagster"
    return timings


def bare_ingest(db, start: dt.date, end: dt.date) -> None:
    from ml_assets import settings
    from ml_assets.features import build_customer_features
    from ml_assets.ingest import load_days
    from ml_assets.schemas import CustomerFeatures
    from ml_assets.warehouse import connect, replace_rows

    snapshots = load_days(
        settings.landing_dir(), day_list(start, (end - start).days + 1), settings.partitions_start()
    )
    features = CustomerFeatures.validate(build_customer_features(snapshots))
    with connect(db) as con:
        replace_rows(con, *RAW, snapshots, "snapshot_date", (start, end))
        replace_rows(con, *FEATURES, features, "snapshot_date", (start, end))


def bare_retrain(db, window_days: int, search: bool) -> None:
    import pandas as pd

    from ml_assets import plots, promotion, registry, settings
    from ml_assets.drift import build_reference_profile
    from ml_assets.evaluation import headline, metrics_table, segment_frame
    from ml_assets.features import SERVING_COLUMNS, features_to_landing_rows
    from ml_assets.gate import (
        GateRules,
        decide_promotion,
        paired_auc_difference,
        segment_comparisons,
    )
    from ml_assets.modelling import (
        ModelParams,
        build_training_set,
        predict_from_features,
        search_space,
        train_churn_model,
    )
    from ml_assets.resampling import reliability_curve
    from ml_assets.schemas import EvaluationReport, TrainingSet
    from ml_assets.warehouse import append_rows, connect, replace_rows

    uri, artifacts = settings.mlflow_tracking_uri(), settings.mlflow_artifact_root()
    # Training set: the window's days only, as the asset reads them.
    with connect(db) as con:
        features = con.execute(
            "select * from features.customer_features where snapshot_date in ("
            "select distinct snapshot_date from features.customer_features "
            "where churned is not null order by snapshot_date desc limit ?)",
            [window_days],
        ).df()
    training_set = TrainingSet.validate(build_training_set(features, window_days, 0.2))
    with connect(db) as con:
        replace_rows(con, "training", "training_set", training_set)

    # Model, logged and registered with its reference profile.
    params = ModelParams()
    train = training_set[training_set["split"] == "train"]
    trained = train_churn_model(
        train, params, cv_folds=3, candidates=search_space(params) if search else None
    )
    profile = build_reference_profile(training_set)
    example = features_to_landing_rows(training_set.head(5))[SERVING_COLUMNS]
    ref = registry.log_and_register(
        tracking_uri=uri,
        artifact_root=artifacts,
        experiment_name=settings.EXPERIMENT_NAME,
        trained=trained,
        input_example=example,
        profile=profile,
        params=params.as_dict(),
        metrics={
            "train_rows": trained.train_rows,
            "train_positives": trained.train_positives,
            **trained.metrics,
        },
        tags={"code_version": "bare"},
    )
    with connect(db) as con:
        append_rows(
            con,
            "monitoring",
            "reference_profiles",
            pd.DataFrame(
                [
                    {
                        "model_version": ref.version,
                        "mlflow_run_id": ref.run_id,
                        "created_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
                        "n_rows": profile["n_rows"],
                        "profile": json.dumps({**profile, "model_version": ref.version}),
                    }
                ]
            ),
        )

    # Evaluation: the challenger on the test split, with plots logged to its run.
    with connect(db) as con:
        test = con.execute("select * from training.training_set where split = 'test'").df()
    challenger = registry.load_pipeline(uri, ref)
    proba = predict_from_features(challenger, test)
    report = EvaluationReport.validate(
        metrics_table(test, proba, ref.threshold, ref.version, ref.run_id, "challenger")
    )
    y = test["churned"].astype(int).to_numpy()
    curves = {f"challenger v{ref.version}": proba}
    calibration = {k: reliability_curve(y, p) for k, p in curves.items()}
    images = {
        "roc.png": plots.roc_png(y, curves),
        "precision_recall.png": plots.pr_png(y, curves),
        "calibration.png": plots.calibration_png(calibration),
        "segments_auc.png": plots.segment_png(report),
    }
    registry.log_run_artifacts(
        uri,
        ref.run_id,
        {**images, "reliability.json": json.dumps(calibration).encode()},
        folder="evaluation",
    )
    numbers = headline(report, "challenger")
    registry.log_run_metrics(uri, ref.run_id, {f"test_{k}": v for k, v in numbers.items()})
    with connect(db) as con:
        replace_rows(con, "evaluation", "evaluation_report", report)

    # Gate: as the asset does (the first model meets the absolute floors and a smoke test).
    rules = GateRules()
    champion = registry.alias_version(uri)
    comparison = segments = None
    if champion is not None and champion.version != ref.version:
        p_champion = predict_from_features(registry.load_pipeline(uri, champion), test)
        comparison = paired_auc_difference(y, proba, p_champion, rules)
        segments = segment_comparisons(y, proba, p_champion, segment_frame(test), rules)
    decision = decide_promotion(
        ref.version,
        numbers,
        champion.version if champion else None,
        len(test),
        int(y.sum()),
        rules,
        comparison,
        segments,
    )
    smoke = "not run"
    if decision.promote:
        passed, smoke = promotion.smoke_test(
            uri, ref, features_to_landing_rows(test.head(50))[SERVING_COLUMNS]
        )
        decision.promote = passed
    tags = {"gate_decision": "promoted" if decision.promote else "refused"}
    if decision.promote:
        registry.promote(uri, ref.version, tags)
    else:
        registry.tag_version(uri, ref.version, tags)
    current = registry.alias_version(uri)
    promotion.append_log(
        db,
        promotion.log_row(
            "gate",
            decision,
            champion.version if champion else None,
            current.version if current else None,
            numbers,
            None,
            smoke,
            None,
        ),
    )


def bare_drift(features, profile: dict, version: int):
    import pandas as pd

    from ml_assets.drift import DriftRules, compute_drift
    from ml_assets.schemas import DriftReport

    rules = DriftRules()
    reports = [
        compute_drift(rows, profile, day, rules).report
        for day, rows in features.groupby("snapshot_date", sort=True)
    ]
    return DriftReport.validate(pd.concat(reports, ignore_index=True))


def bare_scoring(features, pipeline, champion, baseline_auc):
    import numpy as np

    from ml_assets.performance import PerformanceRules, performance_drift
    from ml_assets.schemas import ChurnPredictions
    from ml_assets.scoring import score_features

    predictions = ChurnPredictions.validate(score_features(pipeline, features, champion))
    performance_drift(
        features["churned"].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
        predictions["churn_probability"].to_numpy(),
        baseline_auc,
        PerformanceRules(),
    )
    return predictions


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
