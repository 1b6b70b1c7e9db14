"""Data-quality rules on stored warehouse tables, as plain functions over a DuckDB connection.

The Dagster asset checks in :mod:`ml_assets.assets.checks` call these after a write; each
returns ``(passed, facts)`` where ``facts`` is small enough to show as check metadata.
Column and table names come from the dataset spec (``spec``; None means the active spec).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa

from ml_assets import warehouse
from ml_assets.dataset import DatasetSpec, active_spec

DayRange = tuple[dt.date, dt.date]
Result = tuple[bool, dict[str, Any]]


def _spec(spec: DatasetSpec | None) -> DatasetSpec:
    return spec if spec is not None else active_spec()


def _where(days: DayRange | None, column: str | None = None) -> tuple[str, list[Any]]:
    column = column or _spec(None).date_column
    if days is None:
        return "", []
    # Only placeholders and a checked name: callers may splice the clause into their SQL.
    return (
        f" where cast({warehouse.quoted(column)} as date) between ? and ?",
        [days[0], days[1]],
    )


def latest_day(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, spec: DatasetSpec | None = None
) -> dt.date | None:
    """The newest day stored in a daily table (None when empty or absent)."""
    if not warehouse.table_exists(con, schema, table):
        return None
    date = _spec(spec).date_column
    value = con.execute(
        f"select max(cast({warehouse.quoted(date)} as date)) "
        f"from {warehouse.qualified(schema, table)}"
    ).fetchone()[0]
    return value


def schema_matches(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    model: type[pa.DataFrameModel],
    days: DayRange | None = None,
    spec: DatasetSpec | None = None,
) -> Result:
    """Stored columns equal the pandera model's, in order, and the rows pass its checks."""
    expected = list(model.to_schema().columns)
    if not warehouse.table_exists(con, schema, table):
        return False, {"error": f"{schema}.{table} does not exist"}
    stored = warehouse.table_columns(con, schema, table)
    facts: dict[str, Any] = {
        "missing_columns": [c for c in expected if c not in stored],
        "unexpected_columns": [c for c in stored if c not in expected],
        "column_order_matches": stored == expected,
    }
    where, params = _where(days, _spec(spec).date_column)
    rows = con.execute(f"select * from {warehouse.qualified(schema, table)}{where}", params).df()
    facts["rows_checked"] = len(rows)
    try:
        model.validate(rows, lazy=True)
        facts["failure_cases"] = 0
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        facts["failure_cases"] = len(cases)
        facts["first_failures"] = (
            cases[["column", "check", "failure_case"]].head(5).astype(str).to_markdown(index=False)
        )
    passed = (
        not facts["missing_columns"]
        and not facts["unexpected_columns"]
        and facts["column_order_matches"]
        and facts["failure_cases"] == 0
    )
    return passed, facts


def rows_per_day(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    days: DayRange | None,
    spec: DatasetSpec | None = None,
) -> pd.Series:
    """Row count per day of a daily table (days without rows are absent)."""
    date = _spec(spec).date_column
    where, params = _where(days, date)
    frame = con.execute(
        f"select cast({warehouse.quoted(date)} as date) as day, count(*) as n "
        f"from {warehouse.qualified(schema, table)}{where} group by 1 order by 1",
        params,
    ).df()
    if frame.empty:
        return pd.Series(dtype="int64")
    return pd.Series(frame["n"].to_numpy(), index=[pd.Timestamp(d).date() for d in frame["day"]])


def every_day_has_unique_ids(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    days: DayRange,
    spec: DatasetSpec | None = None,
) -> Result:
    """Every day of the range has rows, and an id appears at most once per day."""
    spec = _spec(spec)
    counts = rows_per_day(con, schema, table, days, spec)
    wanted = [days[0] + dt.timedelta(days=i) for i in range((days[1] - days[0]).days + 1)]
    empty = [str(d) for d in wanted if d not in set(counts.index)]
    where, params = _where(days, spec.date_column)
    duplicates = con.execute(
        f"select count(*) from (select {warehouse.quoted(spec.id_column)}, "
        f"{warehouse.quoted(spec.date_column)} from "
        f"{warehouse.qualified(schema, table)}{where} group by 1, 2 having count(*) > 1)",
        params,
    ).fetchone()[0]
    return not empty and duplicates == 0, {
        "days": len(wanted),
        "rows": int(counts.sum()),
        "days_without_rows": empty,
        f"duplicate_{spec.entity}_days": int(duplicates),
    }


every_day_has_unique_customers = every_day_has_unique_ids  # the earlier name


def same_rows_per_day(
    con: duckdb.DuckDBPyConnection,
    table: tuple[str, str],
    upstream: tuple[str, str],
    days: DayRange | None,
    spec: DatasetSpec | None = None,
) -> Result:
    """``table`` has exactly as many rows per day as ``upstream`` (nothing lost or doubled)."""
    ours = rows_per_day(con, *table, days, spec)
    theirs = rows_per_day(con, *upstream, days, spec)
    if days is None and not ours.empty:
        theirs = theirs[theirs.index.isin(ours.index)]
    joined = pd.concat({"rows": ours, "upstream_rows": theirs}, axis=1).fillna(0).astype(int)
    differ = joined[joined["rows"] != joined["upstream_rows"]]
    return differ.empty and not joined.empty, {
        "rows": int(joined["rows"].sum()),
        "upstream_rows": int(joined["upstream_rows"].sum()),
        "upstream_table": ".".join(upstream),
        "days_that_differ": [str(d) for d in differ.index][:20],
    }


def splits_are_usable(
    con: duckdb.DuckDBPyConnection, min_test_rows: int = 200, spec: DatasetSpec | None = None
) -> Result:
    """Both splits exist with both classes, and the test split is large enough to judge."""
    spec = _spec(spec)
    frame = (
        con.execute(
            f"select split, count(*) as n, sum({warehouse.quoted(spec.target.column)}) "
            f"as positives from {warehouse.qualified_name(spec.names.training_table)} group by 1"
        )
        .df()
        .set_index("split")
    )
    facts = {
        f"{s}_{k}": int(frame.loc[s, c]) if s in frame.index else 0
        for s in ("train", "test")
        for k, c in (("rows", "n"), ("positives", "positives"))
    }
    passed = (
        all(
            facts[f"{s}_positives"] > 0 and facts[f"{s}_positives"] < facts[f"{s}_rows"]
            for s in ("train", "test")
        )
        and facts["test_rows"] >= min_test_rows
    )
    return passed, {**facts, "min_test_rows": min_test_rows}


def metrics_complete(con: duckdb.DuckDBPyConnection, spec: DatasetSpec | None = None) -> Result:
    """Every segment of each model has the same metrics, intervals are ordered (low <= high),
    and the challenger's overall metrics are all finite.

    (Not "the estimate lies inside its interval": for a biased statistic such as the
    expected calibration error the bootstrap percentiles can sit above the estimate.)
    """
    frame = con.execute(
        "select role, segment_column, segment_value, metric, value, ci_low, ci_high "
        f"from {warehouse.qualified_name(_spec(spec).names.evaluation_table)}"
    ).df()
    metrics = set(frame["metric"])
    per_segment = frame.groupby(["role", "segment_column", "segment_value"])["metric"].apply(set)
    incomplete = [" / ".join(map(str, k)) for k, v in per_segment.items() if v != metrics]
    bounds = frame.dropna(subset=["ci_low", "ci_high"])
    reversed_rows = int((bounds["ci_low"] > bounds["ci_high"]).sum())
    overall = frame[(frame["role"] == "challenger") & (frame["segment_column"] == "overall")]
    not_finite = sorted(overall.loc[~np.isfinite(overall["value"].astype(float)), "metric"])
    passed = not overall.empty and not incomplete and not reversed_rows and not not_finite
    return passed, {
        "metric_rows": len(frame),
        "metrics": sorted(metrics),
        "segments_missing_metrics": incomplete[:20],
        "reversed_intervals": reversed_rows,
        "challenger_overall_not_finite": not_finite,
    }


def drifted_features_by_day(
    con: duckdb.DuckDBPyConnection, days: DayRange | None, spec: DatasetSpec | None = None
) -> Result:
    """Passes when no feature drifted on the days; facts name the drifted features per day."""
    spec = _spec(spec)
    where, params = _where(days, spec.date_column)
    frame = con.execute(
        f"select cast({warehouse.quoted(spec.date_column)} as date) as day, feature "
        f"from {warehouse.qualified_name(spec.names.drift_table)}"
        f"{where}{' and' if where else ' where'} drifted order by 1, 2",
        params,
    ).df()
    by_day = {str(pd.Timestamp(d).date()): sorted(g["feature"]) for d, g in frame.groupby("day")}
    return not by_day, {"drifted_days": len(by_day), "drifted_features_by_day": by_day}


def predictions_have_lineage(
    con: duckdb.DuckDBPyConnection, days: DayRange | None, spec: DatasetSpec | None = None
) -> Result:
    """Every model version that scored the days has a ``lineage.model_lineage`` row."""
    from ml_assets import lineage

    spec = _spec(spec)
    where, params = _where(days, spec.date_column)
    versions = sorted(
        int(v)
        for (v,) in con.execute(
            "select distinct model_version from "
            f"{warehouse.qualified_name(spec.names.predictions_table)}{where}",
            params,
        ).fetchall()
    )
    recorded: set[int] = set()
    if warehouse.table_exists(con, lineage.SCHEMA, lineage.MODEL_TABLE):
        recorded = {
            int(v)
            for (v,) in con.execute(
                f"select model_version from {lineage.SCHEMA}.{lineage.MODEL_TABLE}"
            ).fetchall()
        }
    missing = [v for v in versions if v not in recorded]
    return bool(versions) and not missing, {
        "model_versions": versions,
        "versions_without_lineage": missing,
    }
