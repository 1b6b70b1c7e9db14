"""The log tables (quarantine, retrain log, reference profiles) have pandera models too."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import duckdb
import pandas as pd
import pandera.errors
import pytest

from ml_assets.gate import GateDecision
from ml_assets.ingest import refusal_record
from ml_assets.landing import LandingFileError
from ml_assets.promotion import append_retrain_log
from ml_assets.schemas import Quarantine, ReferenceProfileRow, RetrainLog

TAGS = {
    "ml_assets/drift_partition": "2025-02-24",
    "ml_assets/drifted_features": "monthly_charges,days_since_last_login",
    "ml_assets/drift_severity": "2",
    "ml_assets/drift_event_storage_id": "363",
}


def test_a_refusal_record_names_the_file_and_its_hash(tmp_path):
    landing = tmp_path / "customers_2025-01-10.csv"
    landing.write_bytes(b"customer_id;snapshot_date\nC1;2025-01-10\n")
    error = LandingFileError(f"{landing.name}: the delimiter is ';', not ','")
    error.path = landing
    row = refusal_record(error, dt.date(2025, 1, 10), "run-1")
    Quarantine.validate(row)
    assert row.loc[0, "sha256"] == hashlib.sha256(landing.read_bytes()).hexdigest()
    assert row.loc[0, "size_bytes"] == landing.stat().st_size
    assert row.loc[0, "source_file"] == landing.name
    with pytest.raises(pandera.errors.SchemaError):
        Quarantine.validate(row.assign(sha256="not a hash"))


def test_the_retrain_log_is_validated_before_it_is_written(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    decision = GateDecision(True, 2, 1, reasons=["non-inferior"])
    append_retrain_log(database, TAGS, "run-2", decision, champion_after=2)
    with duckdb.connect(str(database), read_only=True) as con:
        stored = con.execute("select * from monitoring.retrain_log").df()
    stored["champion_after"] = stored["champion_after"].astype("Int64")
    RetrainLog.validate(stored)
    assert stored.loc[0, "drift_event_storage_id"] == 363
    assert json.loads(stored.loc[0, "reasons"]) == ["non-inferior"]
    # A row that breaks the model is refused and nothing is appended.
    with pytest.raises(pandera.errors.SchemaError):
        append_retrain_log(
            database,
            {**TAGS, "ml_assets/drift_severity": "-1"},
            "run-3",
            decision,
            champion_after=2,
        )
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select count(*) from monitoring.retrain_log").fetchone()[0] == 1


def test_a_reference_profile_row_must_hold_a_json_profile():
    row = pd.DataFrame(
        [
            {
                "model_version": 1,
                "mlflow_run_id": "abc",
                "created_at": pd.Timestamp("2025-02-24"),
                "n_rows": 30000,
                "profile": json.dumps({"n_rows": 30000}),
            }
        ]
    )
    ReferenceProfileRow.validate(row)
    with pytest.raises(pandera.errors.SchemaError):
        ReferenceProfileRow.validate(row.assign(profile="n_rows=30000"))
    with pytest.raises(pandera.errors.SchemaError):
        ReferenceProfileRow.validate(row.assign(model_version=0))
