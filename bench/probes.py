"""Small measured pieces, each run in a fresh process by :mod:`bench.run`.

``python -m bench.probes load-time``      import dagster, then ml_assets.definitions
``python -m bench.probes feature-day DAY`` the features partition of one day, no Dagster
``python -m bench.probes sensor-ticks``   landing_sensor and drift_sensor against $DAGSTER_HOME
``python -m bench.probes drift METHOD DIR`` one day's drift by ours, scipy or Evidently

Each prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_time() -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    import dagster  # noqa: F401

    t1, c1 = time.perf_counter(), time.process_time()
    import ml_assets.definitions  # noqa: F401

    t2, c2 = time.perf_counter(), time.process_time()
    heavy = sorted(m for m in ("mlflow", "sklearn", "scipy", "matplotlib") if m in sys.modules)
    return {
        "import_dagster_s": t1 - t0,
        "definitions_above_dagster_s": t2 - t1,
        "import_dagster_cpu_s": c1 - c0,
        "definitions_above_dagster_cpu_s": c2 - c1,
        "heavy_modules_loaded": heavy,
    }


def feature_day(day: str) -> dict:
    """What materializing one features partition does, as a plain script."""
    import datetime as dt

    from ml_assets import settings
    from ml_assets.features import build_customer_features
    from ml_assets.schemas import CustomerFeatures
    from ml_assets.warehouse import connect, read_rows, replace_rows

    d = dt.date.fromisoformat(day)
    with connect(settings.duckdb_path()) as con:
        raw = read_rows(
            con,
            "raw",
            "customer_snapshots",
            partition_column="snapshot_date",
            partition_range=(d, d),
        )
        features = CustomerFeatures.validate(build_customer_features(raw))
        replace_rows(con, "features", "customer_features", features, "snapshot_date", (d, d))
    return {"rows": len(features)}


def sensor_ticks(repeats: int = 5) -> dict:
    from dagster import DagsterInstance, build_sensor_context

    from ml_assets.definitions import defs

    instance = DagsterInstance.get()
    repo = defs.get_repository_def()
    out = {}
    for name in ("landing_sensor", "drift_sensor"):
        sensor = defs.get_sensor_def(name)
        t = time.perf_counter()
        data = sensor.evaluate_tick(
            build_sensor_context(instance=instance, cursor=None, repository_def=repo)
        )
        out[f"{name}_first_tick_s"] = time.perf_counter() - t
        out[f"{name}_first_tick_requests"] = len(data.run_requests or [])
        cursor, times = data.cursor, []
        for _ in range(repeats):
            t = time.perf_counter()
            sensor.evaluate_tick(
                build_sensor_context(instance=instance, cursor=cursor, repository_def=repo)
            )
            times.append(time.perf_counter() - t)
        out[f"{name}_tick_s"] = statistics.median(times)
    return out


# --------------------------------------------------------------------------- drift


def _scipy_drift(current, profile: dict) -> list[dict]:
    """The report's statistics with scipy and numpy directly (the floor we compare with)."""
    import numpy as np
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

    def chi2(ref_counts, cur_counts):
        table = np.vstack([ref_counts, cur_counts])
        table = table[:, table.sum(axis=0) > 0]
        return chi2_contingency(table, correction=False)[:2]

    def psi(ref_shares, cur_counts):
        ref = np.maximum(np.asarray(ref_shares), 1e-4)
        cur = np.maximum(cur_counts / cur_counts.sum(), 1e-4)
        return float(np.sum((cur - ref) * np.log(cur / ref)))

    rows = []
    for col, ref in profile["numeric"].items():
        values = current[col].to_numpy(dtype="float64", na_value=np.nan)
        clean = values[~np.isnan(values)]
        edges = np.asarray(ref["edges"])
        counts = np.bincount(np.searchsorted(edges, clean, side="right"), minlength=len(edges) + 1)
        sample_v, sample_c = np.asarray(ref["sample_values"]), np.asarray(ref["sample_counts"])
        w1 = wasserstein_distance(sample_v, clean, u_weights=sample_c)
        if ref["discrete"]:
            stat, p = chi2(np.asarray(ref["counts"]), counts)
        else:
            stat, p = ks_2samp(np.repeat(sample_v, sample_c), clean, method="asymp")[:2]
        rows.append(
            {
                "feature": col,
                "psi": psi(ref["shares"], counts),
                "statistic": stat,
                "p_value": p,
                "effect_size": w1 / ref["std"],
                "null_rate": float(np.isnan(values).mean()),
            }
        )
    for col, ref in profile["categorical"].items():
        counts_by = current[col].value_counts(dropna=False)
        known = np.array([counts_by.get(c, 0) for c in ref["categories"]])
        nulls = int(current[col].isna().sum())
        unseen = len(current) - nulls - int(known.sum())
        counts = np.r_[known, unseen]
        stat, p = chi2(np.asarray(ref["counts"]), counts)
        rows.append(
            {
                "feature": col,
                "psi": psi(ref["shares"], counts),
                "statistic": stat,
                "p_value": p,
                "effect_size": jensenshannon(ref["counts"], counts, base=2),
                "null_rate": nulls / len(current),
            }
        )
    return rows


def drift(method: str, folder: str, repeats: int = 3) -> dict:
    from pathlib import Path

    import pandas as pd

    folder = Path(folder)
    current = pd.read_parquet(folder / "current.parquet")
    profile = json.loads((folder / "profile.json").read_text())
    if method == "evidently":
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        from ml_assets.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

        reference = pd.read_parquet(folder / "reference.parquet")
        definition = DataDefinition(
            numerical_columns=NUMERIC_FEATURES, categorical_columns=CATEGORICAL_FEATURES
        )

        def run():
            snapshot = Report([DataDriftPreset()]).run(
                Dataset.from_pandas(current, data_definition=definition),
                Dataset.from_pandas(reference, data_definition=definition),
            )
            return snapshot.dict()

        repeats = 1
    elif method == "ours":
        from ml_assets.drift import DriftRules, compute_drift, prepare_profile

        def run():
            return compute_drift(current, prepare_profile(profile), "2025-01-02", DriftRules())
    else:

        def run():
            return _scipy_drift(current, profile)

    before = _peak_mb()
    times, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {
        "method": method,
        "seconds": min(times),
        "cpu_seconds": min(cpu),
        "rows": len(current),
        "peak_mb": _peak_mb(),
        "peak_above_data_mb": _peak_mb() - before,
    }


def main(argv: list[str]) -> int:
    what = argv[0]
    if what == "load-time":
        out = load_time()
    elif what == "feature-day":
        out = feature_day(argv[1])
    elif what == "sensor-ticks":
        out = sensor_ticks()
    elif what == "drift":
        out = drift(argv[1], argv[2])
    else:
        raise SystemExit(f"unknown probe {what!r}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
