"""The data-quality rules behind the asset checks, on a real DuckDB file, each shown to pass on
good tables and to fail on the fault it is meant to catch (counted independently with pandas)."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml_assets import table_checks, warehouse
from ml_assets.features import build_customer_features
from ml_assets.schemas import CustomerFeatures
from ml_assets_examples.churn import generator
from ml_assets_tests.conftest import START, day

DAYS = (day(0), day(2))


@pytest.fixture()
def con(tmp_path):
    config = generator.GeneratorConfig(start=START, days=3, rows_per_day=200, seed=5)
    raw = pd.concat(
        [generator.generate_day(config, day(i))[0] for i in range(3)], ignore_index=True
    )
    features = CustomerFeatures.validate(build_customer_features(raw))
    with warehouse.connect(tmp_path / "w.duckdb") as connection:
        warehouse.replace_rows(connection, "raw", "customer_snapshots", raw)
        warehouse.replace_rows(connection, "features", "customer_features", features)
        yield connection


def test_schema_matches_catches_bad_values_and_column_changes(con):
    passed, facts = table_checks.schema_matches(
        con, "features", "customer_features", CustomerFeatures, DAYS
    )
    assert passed and facts["rows_checked"] == 600 and facts["failure_cases"] == 0

    con.execute(
        "update features.customer_features set monthly_charges = -1 "
        "where snapshot_date = ? and customer_id in (select customer_id from "
        "features.customer_features where snapshot_date = ? limit 3)",
        [day(1), day(1)],
    )
    passed, facts = table_checks.schema_matches(
        con, "features", "customer_features", CustomerFeatures, DAYS
    )
    assert not passed and facts["failure_cases"] == 3
    assert "monthly_charges" in facts["first_failures"]
    # Only the checked days count: day 0 alone is still clean.
    assert table_checks.schema_matches(
        con, "features", "customer_features", CustomerFeatures, (day(0), day(0))
    )[0]

    con.execute("alter table features.customer_features add column extra integer")
    passed, facts = table_checks.schema_matches(
        con, "features", "customer_features", CustomerFeatures, (day(0), day(0))
    )
    assert not passed and facts["unexpected_columns"] == ["extra"]


def test_row_rules_find_missing_days_duplicates_and_lost_rows(con):
    passed, facts = table_checks.every_day_has_unique_customers(
        con, "raw", "customer_snapshots", DAYS
    )
    assert passed and facts["rows"] == 600 and facts["days_without_rows"] == []
    passed, facts = table_checks.every_day_has_unique_customers(
        con, "raw", "customer_snapshots", (day(0), day(3))
    )
    assert not passed and facts["days_without_rows"] == [day(3).isoformat()]

    assert table_checks.same_rows_per_day(
        con, ("features", "customer_features"), ("raw", "customer_snapshots"), DAYS
    )[0]
    lost = con.execute(
        "select customer_id from features.customer_features where snapshot_date = ? limit 2",
        [day(2)],
    ).df()["customer_id"]
    con.execute(
        "delete from features.customer_features where snapshot_date = ? and "
        "customer_id in (select unnest(?))",
        [day(2), list(lost)],
    )
    con.execute(
        "insert into raw.customer_snapshots select * from raw.customer_snapshots "
        "where snapshot_date = ? limit 1",
        [day(1)],
    )
    passed, facts = table_checks.same_rows_per_day(
        con, ("features", "customer_features"), ("raw", "customer_snapshots"), DAYS
    )
    raw = con.execute("select snapshot_date from raw.customer_snapshots").df()
    features = con.execute("select snapshot_date from features.customer_features").df()
    assert facts["rows"] == len(features) == 598 and facts["upstream_rows"] == len(raw) == 601
    assert not passed and facts["days_that_differ"] == [day(1).isoformat(), day(2).isoformat()]
    passed, facts = table_checks.every_day_has_unique_customers(
        con, "raw", "customer_snapshots", DAYS
    )
    assert not passed and facts["duplicate_customer_days"] == 1


def test_drift_rule_names_the_drifted_features_per_day(tmp_path):
    frame = pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime([day(0)] * 2 + [day(1)] * 2),
            "feature": ["a", "b", "a", "b"],
            "drifted": [False, False, True, True],
        }
    )
    with duckdb.connect(str(tmp_path / "d.duckdb")) as con:
        con.execute("create schema monitoring")
        con.register("frame", frame)
        con.execute("create table monitoring.drift_report as select * from frame")
        assert table_checks.drifted_features_by_day(con, (day(0), day(0))) == (
            True,
            {"drifted_days": 0, "drifted_features_by_day": {}},
        )
        passed, facts = table_checks.drifted_features_by_day(con, (day(0), day(1)))
    assert not passed and facts["drifted_features_by_day"] == {day(1).isoformat(): ["a", "b"]}


def test_metrics_rule_allows_biased_estimates_but_not_gaps(tmp_path):
    rows = []
    for segment in ("overall", "plan"):
        for metric in ("auc", "ece"):
            # ECE's bootstrap interval can sit above the estimate: allowed.
            low, high = (0.03, 0.08) if metric == "ece" else (0.7, 0.8)
            rows.append(
                ("challenger", segment, "all", metric, 0.02 if metric == "ece" else 0.75, low, high)
            )
    frame = pd.DataFrame(
        rows,
        columns=["role", "segment_column", "segment_value", "metric", "value", "ci_low", "ci_high"],
    )
    with duckdb.connect(str(tmp_path / "e.duckdb")) as con:
        con.execute("create schema evaluation")
        con.register("frame", frame)
        con.execute("create table evaluation.evaluation_report as select * from frame")
        assert table_checks.metrics_complete(con)[0]
        con.execute(
            "delete from evaluation.evaluation_report where segment_column = 'plan' "
            "and metric = 'ece'"
        )
        passed, facts = table_checks.metrics_complete(con)
        assert not passed and facts["segments_missing_metrics"] == ["challenger / plan / all"]
        con.execute(
            "insert into evaluation.evaluation_report values "
            "('challenger', 'plan', 'all', 'ece', ?, 0.1, 0.05)",
            [np.nan],
        )
        passed, facts = table_checks.metrics_complete(con)
        assert not passed and facts["reversed_intervals"] == 1


def test_run_days_from_partition_tags():
    from ml_assets.assets.checks import run_days

    assert run_days({"dagster/partition": "2025-01-05"}) == (dt.date(2025, 1, 5),) * 2
    assert run_days(
        {
            "dagster/asset_partition_range_start": "2025-01-01",
            "dagster/asset_partition_range_end": "2025-01-31",
        }
    ) == (dt.date(2025, 1, 1), dt.date(2025, 1, 31))
    assert run_days({}) is None


def test_checks_of_a_skipped_asset_do_not_fail_the_run(project):
    # Before any champion exists, predictions and the drift report are skipped; their checks
    # must not turn the ingest run into a failure.
    from dagster import DagsterInstance, materialize

    from ml_assets.definitions import ALL_ASSETS, ALL_CHECKS, build_resources
    from ml_assets_tests.conftest import write_days
    from ml_assets_tests.small_lifecycle import DAILY

    write_days(project / "landing", 1, rows=150)
    result = materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=DAILY,
        resources=build_resources(),
        instance=DagsterInstance.ephemeral(),
        partition_key=day(0).isoformat(),
    )
    assert result.success
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert evaluations[("raw/customer_snapshots", "rows_for_every_day")] is True
    assert evaluations[("features/customer_features", "one_row_per_snapshot")] is True
    assert not any(key.startswith("scoring/") for key, _ in evaluations)
