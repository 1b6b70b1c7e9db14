"""The lifecycle's steps as plain functions: what each asset does, without Dagster.

An asset wires its inputs, calls one of these and attaches the metadata it returns; `bench/`
calls the same functions in a bare process, so the benchmark measures the code the assets
run. Each step returns a :class:`StepResult`: the value the asset outputs, metadata of the
whole output, and metadata per partition day (a range run writes one materialization per
day). Metadata values are plain: :class:`Markdown` and :class:`Url` mark the two kinds the
UI renders specially; lists and dicts are JSON.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_assets import lineage, promotion, registry, warehouse
from ml_assets.dataset import DatasetSpec, active_spec
from ml_assets.dataset import schemas as dataset_schemas
from ml_assets.drift import DriftRules, build_reference_profile, compute_drift
from ml_assets.evaluation import headline, metrics_table, segment_frame
from ml_assets.features import build_features as derive_features
from ml_assets.features import features_to_landing_rows
from ml_assets.gate import GateRules, decide_promotion, paired_auc_difference, segment_comparisons
from ml_assets.modelling import (
    ModelParams,
    build_training_set,
    predict_from_features,
    search_space,
    train_model,
)
from ml_assets.performance import PerformanceRules, performance_drift
from ml_assets.registry import ModelRef
from ml_assets.schemas import EvaluationReport, ReferenceProfileRow
from ml_assets.scoring import score_features

SMOKE_ROWS = 50


@dataclass(frozen=True)
class TableModels:
    """The pandera models of one dataset's own tables (one object per spec, so a frame
    validated in a step is recognised as validated by the asset's Dagster type)."""

    raw: Any
    features: Any
    training: Any
    predictions: Any
    drift: Any


@functools.cache
def table_models(spec: DatasetSpec) -> TableModels:
    return TableModels(
        raw=dataset_schemas.raw_model(spec),
        features=dataset_schemas.features_model(spec),
        training=dataset_schemas.training_model(spec),
        predictions=dataset_schemas.predictions_model(spec),
        drift=dataset_schemas.drift_model(spec),
    )


def _spec(spec: DatasetSpec | None) -> DatasetSpec:
    return spec if spec is not None else active_spec()


class Markdown(str):
    """Metadata text the UI renders as Markdown."""


class Url(str):
    """Metadata text the UI renders as a link."""


@dataclass
class StepResult:
    value: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    per_day: dict[str, dict[str, Any]] = field(default_factory=dict)


def _finite(value: float) -> float | None:
    """A float for metadata; None for NaN (no test that day) or infinity."""
    return float(value) if value is not None and math.isfinite(value) else None


def _day(value: Any) -> str:
    return str(pd.Timestamp(value).date())


# --------------------------------------------------------------------------- features


def build_features(snapshots: pd.DataFrame, spec: DatasetSpec | None = None) -> StepResult:
    """Validated model features of validated landing rows (the spec's derive function adds
    the derived columns)."""
    spec = _spec(spec)
    features = table_models(spec).features.validate(derive_features(snapshots, spec))
    target = features[spec.target.column]
    return StepResult(
        features,
        {
            "labelled_rows": int(target.notna().sum()),
            f"{spec.name}_rate": float(target.astype("Float64").mean())
            if target.notna().any()
            else None,
        },
    )


# --------------------------------------------------------------------------- training set


def data_version(frame: pd.DataFrame, spec: DatasetSpec | None = None) -> str:
    """A short content hash of a frame, the same for equal data however it was read.

    Rows are sorted by day and id and columns brought to one representation (datetimes as
    nanoseconds, numbers as float64, the rest as text), so the frame written by the training
    step and the one read back from DuckDB (other datetime unit, nullable ints, any row
    order) hash alike, and anyone can recompute it from the stored table.
    """
    spec = _spec(spec)
    keys = [c for c in (spec.date_column, spec.id_column) if c in frame.columns]
    rows = frame.sort_values(keys, kind="stable") if keys else frame
    canonical = {}
    for name in rows.columns:
        column = rows[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            canonical[name] = column.astype("datetime64[ns]").astype("int64").to_numpy()
        elif pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            canonical[name] = column.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        else:
            canonical[name] = column.astype(str).to_numpy()
    hashed = pd.util.hash_pandas_object(pd.DataFrame(canonical), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def read_training_window(
    database: str | Path, window_days: int, spec: DatasetSpec | None = None
) -> pd.DataFrame:
    """The feature rows of the ``window_days`` most recent labelled days (only those days are
    read, not the whole features table)."""
    spec = _spec(spec)
    target = warehouse.quoted(spec.target.column)
    with warehouse.connect(database) as con:
        return con.execute(
            f"""
            select * from {warehouse.qualified_name(spec.names.features_table)}
            where {warehouse.quoted(spec.date_column)} in (
                select distinct {warehouse.quoted(spec.date_column)}
                from {warehouse.qualified_name(spec.names.features_table)}
                where {target} is not null order by {warehouse.quoted(spec.date_column)} desc
                limit ?
            )
            """,
            [window_days],
        ).df()


def since_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError as exc:
        raise ValueError(
            f"training_set config since={value!r} is not a date; use YYYY-MM-DD or leave it empty."
        ) from exc


def make_training_set(
    features: pd.DataFrame,
    window_days: int,
    test_fraction: float,
    since: str | None = None,
    min_rows: int = 1000,
    spec: DatasetSpec | None = None,
) -> StepResult:
    """The window's labelled rows with the train/test split by id hash; the value's content
    hash is ``metadata["data_version"]``."""
    spec = _spec(spec)
    result = table_models(spec).training.validate(
        build_training_set(
            features, window_days, test_fraction, since_date(since), min_rows, spec=spec
        )
    )
    version = data_version(result, spec)
    days = result[spec.date_column]
    return StepResult(
        result,
        {
            "window_start": str(days.min().date()),
            "window_end": str(days.max().date()),
            "days": int(days.nunique()),
            "day_list": sorted(str(d.date()) for d in days.unique()),
            "train_rows": int((result["split"] == "train").sum()),
            "test_rows": int((result["split"] == "test").sum()),
            f"{spec.name}_rate": float(result[spec.target.column].mean()),
            "data_version": version,
            "since": since or "",
        },
    )


def read_test_split(database: str | Path, spec: DatasetSpec | None = None) -> pd.DataFrame:
    table = _spec(spec).names.training_table
    with warehouse.connect(database) as con:
        return con.execute(
            f"select * from {warehouse.qualified_name(table)} where split = 'test'"
        ).df()


# --------------------------------------------------------------------------- reference


# A regime reference of fewer rows than this (the drift rule's minimum for a day) is widened
# with the days just before its start. Not more: those days belong to the old regime.
MIN_REFERENCE_ROWS = 100


def regime_start(requested: str | None, champion_profile: dict[str, Any] | None) -> str | None:
    """The first day of the input regime a new model's drift reference should describe.

    ``requested`` is the day of the input-drift event a retrain answers (drift_sensor sets
    it); otherwise the regime the champion's reference already started at carries over (a
    weekly retrain a few days after a shift must not fall back to a reference that is mostly
    the days before it). None: no shift is known, the reference is the training window.
    """
    if requested:
        return str(since_date(requested))
    if champion_profile:
        return champion_profile.get("regime_start") or None
    return None


def current_regime(
    tracking_uri: str, requested: str | None, spec: DatasetSpec | None = None
) -> str | None:
    """:func:`regime_start` with the champion's saved profile, when there is a champion."""
    if requested:
        return regime_start(requested, None)
    champion = registry.alias_version(tracking_uri, model_name=_spec(spec).names.model_name)
    if champion is None:
        return None
    return regime_start(None, registry.load_profile(tracking_uri, champion))


def read_reference_rows(
    database: str | Path, start: dt.date, min_rows: int, spec: DatasetSpec | None = None
) -> pd.DataFrame:
    """Every feature row from ``start`` to the newest day, labelled or not; when those hold
    fewer than ``min_rows`` rows, the most recent earlier days are added until they do."""
    spec = _spec(spec)
    table, date = spec.names.features_table, spec.date_column
    with warehouse.connect(database) as con:
        counts = con.execute(
            f"select cast({warehouse.quoted(date)} as date) as day, count(*) as n "
            f"from {warehouse.qualified_name(table)} group by 1 order by 1"
        ).df()
        if counts.empty:
            return con.execute(f"select * from {warehouse.qualified_name(table)} limit 0").df()
        days = [d.date() if hasattr(d, "date") else d for d in counts["day"]]
        first = next((i for i, d in enumerate(days) if d >= start), len(days) - 1)
        while first > 0 and int(counts["n"].iloc[first:].sum()) < min_rows:
            first -= 1
        return con.execute(
            f"select * from {warehouse.qualified_name(table)} "
            f"where cast({warehouse.quoted(date)} as date) >= ?",
            [days[first]],
        ).df()


def profile_day_column(spec: DatasetSpec) -> str | None:
    """The date column when the spec asks the drift rule to treat days as clusters
    (``drift: {day_effects: true}``), else None: rows independent, the rule's default."""
    return spec.date_column if spec.drift_day_effects else None


def reference_profile(
    training_set: pd.DataFrame,
    database: str | Path,
    regime: str | None,
    min_rows: int = MIN_REFERENCE_ROWS,
    spec: DatasetSpec | None = None,
) -> dict[str, Any]:
    """The drift reference saved with a model.

    Without a known shift it is the training window (train and test rows). After an input
    shift (``regime``, a day later than the window's first) it is the days of the new regime
    up to the newest day ingested, labelled or not: a lasting shift is then one drift event,
    answered by one retrain, not a daily alarm against a reference that is mostly the days
    before it; a second, new shift still differs from it. The window's end is recorded too:
    drift_sensor never retrains for drift on a day the model was trained on.
    """
    spec = _spec(spec)
    days = training_set[spec.date_column]
    window_start, window_end = days.min().date(), days.max().date()
    start = since_date(regime)
    if start is not None and start > window_start:
        rows = read_reference_rows(database, start, min_rows, spec)
        kind = "since the shift"
    else:
        rows, start, kind = training_set, None, "training window"
    reference_days = pd.to_datetime(rows[spec.date_column])
    return {
        **build_reference_profile(rows, day_column=profile_day_column(spec), spec=spec),
        "window_end": str(window_end),
        "reference_kind": kind,
        "reference_start": str(reference_days.min().date()),
        "reference_end": str(reference_days.max().date()),
        "regime_start": str(start) if start else None,
    }


# --------------------------------------------------------------------------- model


def run_tags(run_id: str | None, tags: Mapping[str, str]) -> dict[str, str]:
    """MLflow tags naming the orchestrator run behind a model: its id, its trigger, and the
    evidence that started a drift retrain (``ml_assets/*`` run tags)."""
    out = {"trigger": lineage.trigger_of(tags)}
    if run_id:
        out["dagster_run_id"] = run_id
    out.update({k.replace("/", "."): v for k, v in tags.items() if k.startswith("ml_assets/")})
    return out


def fit_and_register(
    training_set: pd.DataFrame,
    params: ModelParams,
    *,
    tracking_uri: str,
    artifact_root: str,
    experiment_name: str,
    database: str | Path,
    search: bool = True,
    cv_folds: int = 3,
    code_version: str = "",
    tags: Mapping[str, str] | None = None,
    regime: str | None = None,
    spec: DatasetSpec | None = None,
) -> StepResult:
    """Fit on the train split, log and register the model with its drift reference profile
    (:func:`reference_profile`; also appended to ``monitoring.reference_profiles``); the
    value is the :class:`ModelRef`.
    """
    spec = _spec(spec)
    train = training_set[training_set["split"] == "train"]
    trained = train_model(
        train,
        params,
        cv_folds=cv_folds,
        candidates=search_space(params) if search else None,
        spec=spec,
    )
    version_of_data = data_version(training_set, spec)
    days = training_set[spec.date_column]
    profile = reference_profile(training_set, database, regime, spec=spec)
    ref = registry.log_and_register(
        tracking_uri=tracking_uri,
        artifact_root=artifact_root,
        experiment_name=experiment_name,
        trained=trained,
        input_example=features_to_landing_rows(training_set.head(5), spec)[spec.serving_columns],
        profile=profile,
        params=params.as_dict(),
        metrics={
            "train_rows": trained.train_rows,
            "train_positives": trained.train_positives,
            **trained.metrics,
        },
        tags={
            "training_set_version": version_of_data,
            "window_start": str(days.min().date()),
            "window_end": str(days.max().date()),
            "training_days": ",".join(sorted(str(d.date()) for d in days.unique())),
            "code_version": code_version,
            **dict(tags or {}),
        },
        model_name=spec.names.model_name,
    )
    # The reference profile also lives in the warehouse, beside the data it describes.
    profile_row = ReferenceProfileRow.validate(
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
        )
    )
    with warehouse.connect(database) as con:
        warehouse.append_rows(con, "monitoring", "reference_profiles", profile_row)
    return StepResult(
        ref,
        {
            "model_version": ref.version,
            "mlflow_run_id": ref.run_id,
            "mlflow_model_uri": ref.uri,
            "mlflow_run": Url(lineage.mlflow_run_link(tracking_uri, ref.run_id)),
            "threshold": trained.threshold,
            "cv_auc": trained.metrics["cv_auc"],
            "search": Markdown(pd.DataFrame(trained.search).round(4).to_markdown(index=False)),
            "train_rows": trained.train_rows,
            "training_set_version": version_of_data,
            "features": list(spec.model_features),
            "drift_reference": (
                f"{profile['reference_kind']}: {profile['reference_start']} to "
                f"{profile['reference_end']}, {profile['n_rows']} rows"
            ),
        },
    )


# --------------------------------------------------------------------------- evaluation


def evaluate(
    test: pd.DataFrame,
    challenger: ModelRef,
    champion: ModelRef | None,
    tracking_uri: str,
    spec: DatasetSpec | None = None,
) -> StepResult:
    """The challenger (and the champion, when another version) on the test split: metrics
    with intervals, overall and per segment; plots and headline numbers are logged to the
    challenger's MLflow run. The value is the evaluation report."""
    from ml_assets import plots
    from ml_assets.resampling import reliability_curve

    spec = _spec(spec)
    if test.empty:
        raise ValueError(
            f"{spec.names.training_table} has no test rows; materialize the training set "
            "with a wider window or a larger test_fraction."
        )
    proba = predict_from_features(registry.load_pipeline(tracking_uri, challenger), test)
    parts = [
        metrics_table(
            test,
            proba,
            challenger.threshold,
            challenger.version,
            challenger.run_id,
            "challenger",
            spec=spec,
        )
    ]
    curves = {f"challenger v{challenger.version}": proba}
    if champion is not None and champion.version != challenger.version:
        champion_proba = predict_from_features(registry.load_pipeline(tracking_uri, champion), test)
        parts.append(
            metrics_table(
                test,
                champion_proba,
                champion.threshold,
                champion.version,
                champion.run_id,
                "champion",
                spec=spec,
            )
        )
        curves[f"champion v{champion.version}"] = champion_proba
    report = EvaluationReport.validate(pd.concat(parts, ignore_index=True))
    numbers = headline(report, "challenger")
    y = test[spec.target.column].astype(int).to_numpy()
    calibration = {label: reliability_curve(y, p) for label, p in curves.items()}
    images = {
        "roc.png": plots.roc_png(y, curves),
        "precision_recall.png": plots.pr_png(y, curves),
        "calibration.png": plots.calibration_png(calibration),
        "segments_auc.png": plots.segment_png(report),
    }
    # The plots and headline numbers also live on the model's MLflow run.
    registry.log_run_artifacts(
        tracking_uri,
        challenger.run_id,
        {**images, "reliability.json": json.dumps(calibration).encode()},
        folder="evaluation",
    )
    registry.log_run_metrics(
        tracking_uri, challenger.run_id, {f"test_{k}": v for k, v in numbers.items()}
    )
    return StepResult(
        report,
        _evaluation_metadata(report, numbers, images, test, y, challenger, champion, tracking_uri),
    )


def _evaluation_metadata(report, numbers, images, test, y, challenger, champion, tracking_uri):
    import base64

    overall = report[(report["role"] == "challenger") & (report["segment_column"] == "overall")]
    bounds = {}
    for r in overall.itertuples():
        if r.metric in ("auc", "pr_auc", "brier"):
            if r.ci_low == r.ci_low:
                bounds[f"{r.metric}_ci_low"] = float(r.ci_low)
            if r.ci_high == r.ci_high:
                bounds[f"{r.metric}_ci_high"] = float(r.ci_high)
    both = report[report["segment_column"] == "overall"]
    wide = both.pivot_table(index="metric", columns="role", values="value")
    return {
        **{name: float(value) for name, value in numbers.items() if value == value},
        **{k: bounds[k] for k in sorted(bounds, key=lambda k: k.endswith("high"))},
        "model_version": challenger.version,
        "champion_version": champion.version if champion else 0,
        "test_rows": len(test),
        "test_positives": int(y.sum()),
        "overall": Markdown(wide.round(4).to_markdown()),
        "plots": Markdown(
            "\n\n".join(
                f"**{name}**\n\n![{name}](data:image/png;base64,{base64.b64encode(png).decode()})"
                for name, png in images.items()
            )
        ),
        "mlflow_run_id": challenger.run_id,
        "mlflow_run": Url(lineage.mlflow_run_link(tracking_uri, challenger.run_id)),
        "mlflow_plots": f"runs:/{challenger.run_id}/evaluation",
    }


# --------------------------------------------------------------------------- gate


def gate(
    evaluation_report: pd.DataFrame,
    test: pd.DataFrame,
    rules: GateRules,
    *,
    tracking_uri: str,
    database: str | Path,
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    evaluation_run_id: str | None = None,
    spec: DatasetSpec | None = None,
) -> StepResult:
    """The promotion gate: the challenger of ``evaluation_report`` against the champion on
    the same test rows, the smoke test in a fresh process, the alias moved (or the refusal
    tagged), the decision logged (promotion log, retrain log for a drift retrain, model
    lineage). The value is the champion afterwards (a :class:`ModelRef` or None)."""
    spec = _spec(spec)
    model_name = spec.names.model_name
    tags = dict(tags or {})
    challenger_rows = evaluation_report[evaluation_report["role"] == "challenger"]
    if challenger_rows.empty:
        raise ValueError(
            "evaluation.evaluation_report holds no challenger rows; "
            "materialize evaluation/evaluation_report first."
        )
    challenger = registry.model_version(
        tracking_uri, int(challenger_rows["model_version"].iloc[0]), model_name=model_name
    )
    champion = registry.alias_version(tracking_uri, model_name=model_name)
    y = test[spec.target.column].astype(int).to_numpy()
    comparison = segments = None
    if champion is not None and champion.version != challenger.version:
        p_challenger = predict_from_features(registry.load_pipeline(tracking_uri, challenger), test)
        p_champion = predict_from_features(registry.load_pipeline(tracking_uri, champion), test)
        comparison = paired_auc_difference(y, p_challenger, p_champion, rules)
        segments = segment_comparisons(
            y, p_challenger, p_champion, segment_frame(test, spec), rules
        )
    challenger_metrics = headline(evaluation_report, "challenger")
    decision = decide_promotion(
        challenger.version,
        challenger_metrics,
        champion.version if champion else None,
        len(test),
        int(y.sum()),
        rules,
        comparison,
        segments,
    )
    smoke = _smoke(decision, tracking_uri, challenger, test, spec)
    _apply_decision(tracking_uri, challenger, decision, comparison, run_id, model_name)
    current = registry.alias_version(tracking_uri, model_name=model_name)
    promotion.append_log(
        database,
        promotion.log_row(
            "gate",
            decision,
            champion.version if champion else None,
            current.version if current else None,
            challenger_metrics,
            headline(evaluation_report, "champion") or None,
            smoke,
            run_id,
        ),
    )
    if tags.get("ml_assets/trigger") == "drift":
        promotion.append_retrain_log(
            database, tags, run_id, decision, current.version if current else None
        )
    # The whole chain behind this model version, for `ml-assets lineage` and the view
    # lineage.prediction_lineage.
    lineage.record_model_lineage(
        database,
        lineage.build_model_lineage(
            tracking_uri,
            challenger.version,
            evaluation_report,
            decision.promote,
            decision.reasons,
            run_id,
            evaluation_run_id,
            model_name=model_name,
        ),
        spec,
    )
    metadata = _gate_metadata(decision, challenger, champion, current, smoke, tracking_uri)
    metadata.update(_comparison_metadata(comparison, segments))
    return StepResult(current, metadata)


def _smoke(decision, tracking_uri: str, challenger: ModelRef, test: pd.DataFrame, spec) -> str:
    """Load the challenger in a fresh process and score raw rows; a failure refuses it."""
    if not decision.promote:
        return "not run"
    sample = features_to_landing_rows(test.head(SMOKE_ROWS), spec)[spec.serving_columns]
    passed, smoke = promotion.smoke_test(tracking_uri, challenger, sample)
    if not passed:
        decision.promote = False
        decision.reasons.append(f"smoke test failed in a fresh process: {smoke}")
    else:
        decision.reasons.append(
            "smoke test passed: loaded from the registry in a fresh process and scored raw rows"
        )
    return smoke


def _apply_decision(tracking_uri, challenger, decision, comparison, run_id, model_name) -> None:
    tags = {
        "gate_decision": "promoted" if decision.promote else "refused",
        "gate_reasons": "; ".join(decision.reasons)[:4000],
        "gate_dagster_run_id": run_id or "",
    }
    if comparison is not None:
        tags.update(
            gate_auc_difference=f"{comparison.difference:.5f}",
            gate_auc_difference_low=f"{comparison.ci_low:.5f}",
            gate_p_value=f"{comparison.p_value:.4g}",
        )
    if decision.promote:
        registry.promote(tracking_uri, challenger.version, tags, model_name=model_name)
    else:
        registry.tag_version(tracking_uri, challenger.version, tags, model_name=model_name)


def _gate_metadata(decision, challenger, champion, current, smoke, tracking_uri) -> dict:
    return {
        "decision": Markdown(
            f"**{'Promoted' if decision.promote else 'Refused'}**: challenger version "
            f"{challenger.version}; champion is now version "
            f"{current.version if current else 'none'}"
        ),
        "promoted": decision.promote,
        "challenger_version": challenger.version,
        "champion_version": current.version if current else 0,
        "previous_champion_version": champion.version if champion else 0,
        "reasons": Markdown("\n".join(f"- {r}" for r in decision.reasons)),
        "smoke_test": smoke,
        "challenger_mlflow_run": Url(lineage.mlflow_run_link(tracking_uri, challenger.run_id)),
    }


def _comparison_metadata(comparison, segments) -> dict:
    metadata: dict[str, Any] = {}
    if comparison is not None:
        metadata.update(
            auc_difference=comparison.difference,
            auc_difference_lower_bound=comparison.ci_low,
            p_value_noninferiority=comparison.p_value,
        )
    if segments:
        columns = [
            "segment_column",
            "segment_value",
            "n_rows",
            "n_positives",
            "difference",
            "p_adjusted",
            "worse",
        ]
        metadata["segments"] = Markdown(
            pd.DataFrame(segments)[columns].round(4).to_markdown(index=False)
        )
    return metadata


# --------------------------------------------------------------------------- scoring


def score_days(
    features: pd.DataFrame,
    champion: ModelRef,
    tracking_uri: str,
    rules: PerformanceRules,
    pipeline=None,
    baseline_auc: float | None = None,
    spec: DatasetSpec | None = None,
) -> StepResult:
    """The champion's probabilities for the rows, and per labelled day its realised AUC
    against its test AUC (``performance_drift`` per day: a significant drop is a drift
    event). ``pipeline`` and ``baseline_auc`` may be passed to save loading them again."""
    spec = _spec(spec)
    names = spec.names
    if pipeline is None:
        pipeline = registry.load_pipeline(tracking_uri, champion)
    if baseline_auc is None:
        baseline_auc = registry.run_metric(tracking_uri, champion.run_id, "test_auc")
    predictions = table_models(spec).predictions.validate(
        score_features(pipeline, features, champion, spec)
    )
    # Day by day, and on each day's own materialization, so a range run never blends a
    # drifted day with calm ones.
    labels = features[spec.target.column].astype("Float64")
    labels = labels.to_numpy(dtype=float, na_value=np.nan)
    probabilities = predictions[names.probability_column].to_numpy()
    days = pd.to_datetime(features[spec.date_column]).dt.date.to_numpy()
    per_day = {}
    for day in sorted(set(days)):
        rows = days == day
        performance = performance_drift(labels[rows], probabilities[rows], baseline_auc, rules)
        per_day[day.isoformat()] = {
            "performance_drift": bool(performance["drifted"]),
            "performance_reason": performance["reason"],
            **{
                k: float(performance[k])
                for k in ("realised_auc", "baseline_auc", "auc_ci_low", "auc_ci_high")
                if performance[k] == performance[k]
            },
            "labelled_rows": performance["labelled_rows"],
        }
    return StepResult(
        predictions,
        {
            "model_version": champion.version,
            "mlflow_run_id": champion.run_id,
            "mlflow_run": Url(lineage.mlflow_run_link(tracking_uri, champion.run_id)),
            "mean_probability": float(predictions[names.probability_column].mean()),
            f"{names.prediction_column}_rate": float(predictions[names.prediction_column].mean()),
        },
        per_day,
    )


# --------------------------------------------------------------------------- drift


def drift_days(
    features: pd.DataFrame,
    profile: dict[str, Any],
    rules: DriftRules,
    reference_version: int,
    spec: DatasetSpec | None = None,
) -> StepResult:
    """Each day of ``features`` against a prepared reference profile
    (:func:`ml_assets.drift.prepare_profile`): the drift report, and per day the decision
    (``dataset_drift``, ``drifted_features``) drift_sensor reads."""
    spec = _spec(spec)
    reports, reasons, undecided, per_day = [], [], [], {}
    for day, rows in features.groupby(spec.date_column, sort=True):
        outcome = compute_drift(rows, profile, day, rules, spec)
        reports.append(outcome.report)
        drifted = sorted(outcome.drifted_features) if outcome.dataset_drift else []
        per_day[_day(day)] = {
            "dataset_drift": outcome.dataset_drift,
            "drifted_features": drifted,
            "drifted_feature_count": len(drifted),
            # Profiles saved before the training window was recorded have no end.
            **({"reference_window_end": profile["window_end"]} if "window_end" in profile else {}),
        }
        if not outcome.decided:
            undecided.append(_day(day))
        reasons.extend(f"{_day(day)}: {r}" for r in outcome.reasons)
    report = table_models(spec).drift.validate(pd.concat(reports, ignore_index=True))
    # Drifted features first, then the strongest evidence (smallest adjusted p-value).
    top = report.sort_values(
        ["drifted", "p_value_adjusted", "effect_size"], ascending=[False, True, False]
    ).head(5)
    columns = [
        spec.date_column,
        "feature",
        "effect_size",
        "p_value_adjusted",
        "psi",
        "drifted",
        "reason",
    ]
    return StepResult(
        report,
        {
            "reference_model_version": reference_version,
            **{
                k: profile[k]
                for k in ("reference_kind", "reference_start", "reference_end")
                if profile.get(k)
            },
            "max_psi": _finite(report["psi"].max()),
            "max_effect_size": _finite(report["effect_size"].max()),
            "min_p_value_adjusted": _finite(report["p_value_adjusted"].min()),
            "days_without_decision": undecided,
            "reasons": Markdown("\n".join(f"- {r}" for r in reasons)),
            "top_features": Markdown(top[columns].to_markdown(index=False)),
        },
        per_day,
    )
