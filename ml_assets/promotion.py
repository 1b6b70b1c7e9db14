"""Everything around the gate's verdict: the smoke test, the log, the rollback."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from ml_assets import registry, settings, warehouse
from ml_assets.gate import GateDecision
from ml_assets.registry import ModelRef
from ml_assets.schemas import PromotionLog, RetrainLog

SMOKE_TIMEOUT_S = settings.smoke_timeout_seconds()


def smoke_test(tracking_uri: str, ref: ModelRef, raw_rows: pd.DataFrame) -> tuple[bool, str]:
    """Load ``ref`` from the registry in a new interpreter and score ``raw_rows`` there."""
    with tempfile.TemporaryDirectory() as tmp:
        rows_path = Path(tmp) / "rows.parquet"
        raw_rows.to_parquet(rows_path)
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ml_assets.smoke",
                    "--tracking-uri",
                    tracking_uri,
                    "--model-uri",
                    ref.uri,
                    "--rows",
                    str(rows_path),
                    "--model-name",
                    ref.name,
                ],
                capture_output=True,
                text=True,
                timeout=SMOKE_TIMEOUT_S,
                env={**os.environ, "OMP_NUM_THREADS": str(settings.compute_threads())},
            )
        except subprocess.TimeoutExpired:
            return False, f"smoke test timed out after {SMOKE_TIMEOUT_S} s"
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    detail = lines[-1] if lines else (done.stderr.strip().splitlines() or ["no output"])[-1]
    return done.returncode == 0, detail


def log_row(
    action: str,
    decision: GateDecision,
    champion_before: int | None,
    champion_after: int | None,
    challenger_metrics: dict[str, float],
    champion_metrics: dict[str, float] | None,
    smoke: str,
    dagster_run_id: str | None,
) -> pd.DataFrame:
    """One ``registry.promotion_log`` row for a decision."""
    comparison = decision.comparison
    row = {
        "decided_at": pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
        "action": action,
        "challenger_version": decision.challenger_version,
        "champion_before": champion_before,
        "champion_after": champion_after,
        "promoted": decision.promote,
        "auc_challenger": challenger_metrics.get("auc"),
        "auc_champion": (champion_metrics or {}).get("auc"),
        "auc_difference": comparison.difference if comparison else None,
        "auc_difference_low": comparison.ci_low if comparison else None,
        "auc_difference_high": comparison.ci_high if comparison else None,
        "p_value_noninferiority": comparison.p_value if comparison else None,
        "worse_segments": ",".join(decision.worse_segments),
        "smoke_test": smoke,
        "reasons": json.dumps(decision.reasons),
        "dagster_run_id": dagster_run_id,
    }
    frame = pd.DataFrame([row])
    for col in ("champion_before", "champion_after"):
        frame[col] = frame[col].astype("Int64")
    return PromotionLog.validate(frame)


def append_log(database: str | Path, row: pd.DataFrame) -> None:
    with warehouse.connect(Path(database)) as con:
        warehouse.append_rows(con, "registry", "promotion_log", row)


def append_retrain_log(
    database: str | Path,
    run_tags: dict[str, str],
    run_id: str,
    decision: GateDecision,
    champion_after: int | None,
) -> None:
    """Link a drift event, its evidence, the retrain run and the gate's verdict."""
    row = pd.DataFrame(
        [
            {
                "decided_at": pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
                "drift_partition": run_tags.get("ml_assets/drift_partition", ""),
                "drifted_features": run_tags.get("ml_assets/drifted_features", ""),
                "severity": int(run_tags.get("ml_assets/drift_severity", "0") or 0),
                "drift_event_storage_id": int(
                    run_tags.get("ml_assets/drift_event_storage_id", "0") or 0
                ),
                "dagster_run_id": run_id,
                "model_version": decision.challenger_version,
                "promoted": decision.promote,
                "champion_after": champion_after,
                "reasons": json.dumps(decision.reasons),
            }
        ]
    )
    row["champion_after"] = row["champion_after"].astype("Int64")
    with warehouse.connect(Path(database)) as con:
        warehouse.append_rows(con, "monitoring", "retrain_log", RetrainLog.validate(row))


def rollback(
    tracking_uri: str, database: str | Path, model_name: str | None = None
) -> tuple[int, int]:
    """Make the previous champion the champion again, and log it."""
    old, new = registry.rollback(tracking_uri, model_name)
    decision = GateDecision(True, new, old, reasons=[f"rollback: champion {old} -> {new}"])
    append_log(database, log_row("rollback", decision, old, new, {}, None, "not run", None))
    return old, new
