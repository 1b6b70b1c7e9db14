"""The flights year table, read from what the pipeline stored.

``python -m ml_assets_examples.flights.report`` (the last step of ``make flights``) reads the
flights warehouse and the flights Dagster instance (``DAGSTER_HOME``) and prints, per month:
the AUC of the pipeline's own predictions against the ``late`` label (sklearn's
``roc_auc_score`` over the month's stored rows: (a), the closed loop), the days flagged as
drifted (input drift in the drift report's materialization, performance drift in the
predictions'), the retrains drift_sensor started, and the gate's promotions and refusals.
With ``--bench FILE`` (the JSON ``make flights-bench`` writes) the columns (b) a model
trained on January only and (c) the weekly schedule are added from bench/flights_year.py.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import sys
from pathlib import Path

import pandas as pd

from ml_assets.dataset import DatasetSpec


def stored_predictions(database: Path, spec: DatasetSpec) -> pd.DataFrame:
    """Every stored prediction with its label: id, day, probability, model version, label
    (null when not known)."""
    from ml_assets import warehouse

    names = spec.names
    ident, day, target = spec.id_column, spec.date_column, spec.target.column
    features = names.table(names.features)
    with warehouse.connect(database, read_only=True) as con:
        if not warehouse.table_exists(con, *names.predictions_table.split(".", 1)):
            return pd.DataFrame(columns=[ident, day, "probability", "model_version", target])
        return con.execute(
            f'select p."{ident}", p."{day}", p."{names.probability_column}" as probability, '
            f'p.model_version, f."{target}" from {names.predictions_table} p '
            f'join {features} f on f."{ident}" = p."{ident}" and f."{day}" = p."{day}" '
            f'order by p."{day}", p."{ident}"'
        ).df()


def auc_by(rows: pd.DataFrame, spec: DatasetSpec, period: str = "day") -> pd.Series:
    """sklearn's ROC AUC of the stored probabilities against the label, per day or month
    (labelled rows only; NaN for a period with one class)."""
    from sklearn.metrics import roc_auc_score

    target = spec.target.column
    labelled = rows[rows[target].notna()].copy()
    days = pd.to_datetime(labelled[spec.date_column])
    keys = days.dt.date if period == "day" else days.dt.month

    def one(group: pd.DataFrame) -> float:
        y = group[target].astype(int)
        return float(roc_auc_score(y, group["probability"])) if y.nunique() == 2 else float("nan")

    return labelled.groupby(keys.rename(period)).apply(one, include_groups=False)


def materialized_flags(instance, spec: DatasetSpec) -> pd.DataFrame:
    """Per day, whether its drift report said input drift and its predictions said
    performance drift (the last materialization of each day counts)."""
    from dagster import AssetKey, AssetRecordsFilter

    flags: dict[str, dict[str, bool]] = {}
    for kind, role, field in (
        ("input", "drift", "dataset_drift"),
        ("performance", "predictions", "performance_drift"),
    ):
        key = AssetKey(list(spec.names.asset_keys[role]))
        after = None
        while True:
            result = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, after_storage_id=after),
                limit=1000,
                ascending=True,
            )
            for record in result.records:
                mat = record.asset_materialization
                if mat is None or mat.partition is None:
                    continue
                value = mat.metadata.get(field)
                flags.setdefault(mat.partition, {})[kind] = bool(value.value) if value else False
                after = record.storage_id
            if not result.has_more or not result.records:
                break
            after = result.records[-1].storage_id
    frame = pd.DataFrame.from_dict(flags, orient="index").reindex(columns=["input", "performance"])
    frame.index = pd.to_datetime(frame.index)
    return frame.fillna(False).astype(bool)


def sensor_retrains(instance) -> pd.DataFrame:
    """The retrain runs drift_sensor requested (by the daemon or the in-process replay):
    the drift day, the kind and the run's status."""
    from dagster import RunsFilter

    records = instance.get_run_records(RunsFilter(tags={"dagster/sensor_name": "drift_sensor"}))
    rows = [
        {
            "run_id": r.dagster_run.run_id,
            "day": pd.Timestamp(r.dagster_run.tags.get("ml_assets/drift_partition")),
            "kind": r.dagster_run.tags.get("ml_assets/drift_kind", ""),
            "status": r.dagster_run.status.value,
            "replay": r.dagster_run.tags.get("ml_assets/replay") == "1",
        }
        for r in records
    ]
    return pd.DataFrame(rows, columns=["run_id", "day", "kind", "status", "replay"])


def gate_decisions(database: Path, instance=None) -> pd.DataFrame:
    """The gate's decisions with the data day each was made on: the drift day for a retrain
    drift_sensor started, else the end of the challenger's training window."""
    from ml_assets import warehouse

    with warehouse.connect(database, read_only=True) as con:
        if not warehouse.table_exists(con, "registry", "promotion_log"):
            return pd.DataFrame(columns=["challenger_version", "promoted", "reasons", "day"])
        lineage = warehouse.table_exists(con, "lineage", "model_lineage")
        decisions = con.execute(
            "select g.challenger_version, g.promoted, g.reasons, g.dagster_run_id"
            + (", l.window_end" if lineage else ", null as window_end")
            + " from registry.promotion_log g"
            + (
                " left join lineage.model_lineage l on l.model_version = g.challenger_version"
                if lineage
                else ""
            )
            + " where g.action = 'gate' order by g.decided_at"
        ).df()
    days = []
    for row in decisions.itertuples():
        run = (
            instance.get_run_by_id(row.dagster_run_id) if instance and row.dagster_run_id else None
        )
        tag = run.tags.get("ml_assets/drift_partition") if run else None
        days.append(pd.Timestamp(tag) if tag else pd.Timestamp(row.window_end))
    decisions["day"] = days
    return decisions


def year_table(
    database: Path, spec: DatasetSpec, instance, until: dt.date | None = None
) -> pd.DataFrame:
    """One row per month: scored days, labelled rows, AUC (a), flagged days, sensor
    retrains, promotions and refusals."""
    rows = stored_predictions(database, spec)
    if until is not None:
        rows = rows[pd.to_datetime(rows[spec.date_column]).dt.date <= until]
    monthly_auc = auc_by(rows, spec, "month") if len(rows) else pd.Series(dtype=float)
    days = pd.to_datetime(rows[spec.date_column])
    flags = materialized_flags(instance, spec)
    retrains = sensor_retrains(instance)
    gates = gate_decisions(database, instance)
    out = []
    for month in range(1, 13):
        in_month = days.dt.month == month
        scored = int(days[in_month].dt.date.nunique())
        month_flags = flags[flags.index.month == month]
        month_retrains = retrains[retrains["day"].dt.month == month]
        month_gates = gates[pd.to_datetime(gates["day"]).dt.month == month]
        if not scored and month_flags.empty and month_gates.empty:
            continue
        out.append(
            {
                "month": calendar.month_abbr[month],
                "days scored": scored,
                "rows": int(in_month.sum()),
                "AUC (a) closed loop": round(float(monthly_auc.get(month, float("nan"))), 3),
                "input drift days": int(month_flags["input"].sum()),
                "performance drift days": int(month_flags["performance"].sum()),
                "sensor retrains": len(month_retrains),
                "promoted": int(month_gates["promoted"].sum()),
                "refused": int((~month_gates["promoted"].astype(bool)).sum()),
            }
        )
    return pd.DataFrame(out)


def add_bench_columns(table: pd.DataFrame, bench_file: Path) -> pd.DataFrame:
    """Columns (b) January model and (c) weekly schedule from bench/flights_year.py's JSON."""
    monthly = json.loads(bench_file.read_text()).get("monthly", {})
    month_number = {calendar.month_abbr[m]: str(m) for m in range(1, 13)}
    for key, title in (("b", "AUC (b) January model"), ("c", "AUC (c) weekly")):
        values = monthly.get(key, {})
        table[title] = [
            round(float(values[month_number[m]]), 3) if month_number[m] in values else None
            for m in table["month"]
        ]
    return table


def markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    lines = [
        "| " + " | ".join("" if v is None or v != v else str(v) for v in row) + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join([header, rule, *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--until", type=dt.date.fromisoformat, default=None)
    parser.add_argument(
        "--bench",
        type=Path,
        default=Path("bench/out/flights_year.json"),
        help="bench/flights_year.py's JSON for columns (b) and (c), when it exists",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    from dagster import DagsterInstance

    from ml_assets_examples.flights.definitions import PATHS, SPEC

    if not PATHS.duckdb_path.exists():
        print(f"no flights warehouse at {PATHS.duckdb_path}; run `make flights` first.")
        return 1
    with DagsterInstance.get() as instance:
        table = year_table(PATHS.duckdb_path, SPEC, instance, args.until)
    if args.bench and args.bench.exists():
        table = add_bench_columns(table, args.bench)
    print(markdown(table))
    if args.json:
        args.json.write_text(table.to_json(orient="records", indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
