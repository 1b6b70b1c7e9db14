"""Growth of the local defaults, for the README's scale table (issue 12).

``python -m bench.scale [--rows-per-day 25000] [--days 120] [--runs 2000] [--lake]``

- Warehouse: days of a features-shaped frame written one by one through the project's
  ``warehouse.replace_rows`` (one transaction per day, as the IO manager does) into a DuckDB
  file; the file size and the time of a day's write as history grows. With ``--lake`` (and
  the variables of ``team.env`` set) the same days go to the DuckLake lake as well.
- MLflow on SQLite: runs logged one by one (params and metrics like a training run); the time
  of logging one run and of searching the experiment as the store grows, and its size.

Prints one JSON document; nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ml_assets import settings, warehouse

START = dt.date(2025, 1, 1)


def day_frame(day: dt.date, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """A frame shaped like features/customer_features: ids, a date, ~20 numeric columns."""
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:08d}" for i in range(rows)],
            "snapshot_date": pd.Timestamp(day),
            "plan": rng.choice(["basic", "standard", "premium"], rows),
            "region": rng.choice(["north", "south", "east", "west"], rows),
        }
    )
    for i in range(18):
        frame[f"f{i:02d}"] = rng.normal(size=rows)
    frame["churned"] = rng.integers(0, 2, rows)
    return frame


def warehouse_growth(target: str, rows: int, days: int, checkpoints: set[int]) -> list[dict]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(days):
        day = START + dt.timedelta(days=i)
        frame = day_frame(day, rows, rng)
        t0 = time.perf_counter()
        with warehouse.connect(target) as con:
            warehouse.replace_rows(
                con,
                "features",
                "growth",
                frame,
                partition_column="snapshot_date",
                partition_range=(day, day),
            )
        took = time.perf_counter() - t0
        if i + 1 in checkpoints:
            t0 = time.perf_counter()
            with warehouse.connect(target, read_only=True) as con:
                con.execute(
                    "select count(*) from features.growth where snapshot_date = ?", [day]
                ).fetchone()
            read = time.perf_counter() - t0
            size = Path(target).stat().st_size if not warehouse.is_lake(target) else None
            out.append(
                {
                    "days": i + 1,
                    "rows": (i + 1) * rows,
                    "write_day_s": round(took, 3),
                    "read_day_s": round(read, 3),
                    "file_mb": round(size / 2**20, 1) if size else None,
                }
            )
            print(json.dumps(out[-1]), flush=True)
    return out


def mlflow_growth(runs: int, checkpoints: set[int]) -> list[dict]:
    from mlflow import MlflowClient

    folder = Path(tempfile.mkdtemp(prefix="scale_mlflow_"))
    db = folder / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiment = client.create_experiment("scale", artifact_location=(folder / "a").as_uri())
    out, log_times = [], []
    for i in range(runs):
        t0 = time.perf_counter()
        run = client.create_run(experiment)
        client.log_batch(
            run.info.run_id,
            params=[_param(f"p{j}", j) for j in range(10)],
            metrics=[_metric(f"m{j}", float(j)) for j in range(10)],
        )
        client.set_terminated(run.info.run_id)
        log_times.append(time.perf_counter() - t0)
        if i + 1 in checkpoints:
            t0 = time.perf_counter()
            client.search_runs([experiment], "metrics.m1 > 0", max_results=100)
            search = time.perf_counter() - t0
            out.append(
                {
                    "runs": i + 1,
                    "log_run_s": round(statistics.median(log_times[-50:]), 4),
                    "search_100_s": round(search, 3),
                    "store_mb": round(db.stat().st_size / 2**20, 1),
                }
            )
            print(json.dumps(out[-1]), flush=True)
    return out


def _param(key, value):
    from mlflow.entities import Param

    return Param(key, str(value))


def _metric(key, value):
    from mlflow.entities import Metric

    return Metric(key, value, int(time.time() * 1000), 0)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--rows-per-day", type=int, default=25_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--lake", action="store_true", help="also the lake of team.env")
    args = parser.parse_args()
    checkpoints = {1, 10, 30, 60, 120, 240, 400} | {args.days}
    result = {"rows_per_day": args.rows_per_day, "load_average_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        result["duckdb_file"] = warehouse_growth(
            str(Path(tmp) / "growth.duckdb"), args.rows_per_day, args.days, checkpoints
        )
    if args.lake:
        result["ducklake"] = warehouse_growth(
            settings.warehouse(), args.rows_per_day, args.days, checkpoints
        )
    result["mlflow_sqlite"] = mlflow_growth(args.runs, {1, 100, 500, 1000, 2000} | {args.runs})
    result["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
