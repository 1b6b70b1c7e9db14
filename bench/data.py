"""Benchmark data and the model-quality check, run in child processes by :mod:`bench.run`.

``python -m bench.data landing DAYS``  generate the landing days (cached in bench/out/data)
``python -m bench.data drift``         one 1,000,000-row day of features and its reference
``python -m bench.data quality WORK``  champion AUC next to the oracle AUC of a lifecycle

The parent keeps only the standard library imported: a child's peak memory is read from
``wait4``, and Linux carries the parent's high-water mark into a forked child across exec.
Each prints one JSON line.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
START = dt.date(2025, 1, 1)
ROWS_PER_DAY = 25_000
SEED = 11
DRIFT_ROWS = 1_000_000
DRIFT_REFERENCE_ROWS = 100_000


def landing_data(days: int) -> dict:
    """Generate the landing days once (cached in bench/out/data while the settings match)."""
    from ml_assets_examples.churn.generator import GeneratorConfig, generate

    data = OUT / "data"
    stamp = data / "stamp.json"
    wanted = {
        "start": START.isoformat(),
        "days": days,
        "rows_per_day": ROWS_PER_DAY,
        "seed": SEED,
        "scenario": "none",
        "format": "parquet",
    }
    if stamp.exists():
        have = json.loads(stamp.read_text())
        if {**have["config"], "days": days} == wanted and have["config"]["days"] >= days:
            return have["summary"]
    shutil.rmtree(data, ignore_errors=True)
    config = GeneratorConfig(start=START, days=days, rows_per_day=ROWS_PER_DAY, seed=SEED)
    summary = generate(config, data / "landing", data / "truth", fmt="parquet", progress=None)
    summary = {k: summary[k] for k in ("rows", "oracle_auc", "churn_rate", "seconds")}
    stamp.write_text(json.dumps({"config": wanted, "summary": summary}))
    return summary


def drift_data() -> Path:
    """One day of 1,000,000 feature rows and its reference (100,000 rows of another day)."""
    from ml_assets.drift import build_reference_profile
    from ml_assets.features import build_customer_features
    from ml_assets_examples.churn.generator import GeneratorConfig, generate_day

    folder = OUT / "drift_data"
    stamp = folder / "stamp.json"
    wanted = {"rows": DRIFT_ROWS, "reference_rows": DRIFT_REFERENCE_ROWS, "seed": SEED}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    config = GeneratorConfig(start=START, rows_per_day=DRIFT_ROWS, seed=SEED)
    reference_day, _ = generate_day(config, START)
    step = DRIFT_ROWS // DRIFT_REFERENCE_ROWS
    reference = build_customer_features(reference_day.iloc[::step].reset_index(drop=True))
    current = build_customer_features(generate_day(config, START + dt.timedelta(days=1))[0])
    reference.to_parquet(folder / "reference.parquet")
    current.to_parquet(folder / "current.parquet")
    profile = build_reference_profile(reference, model_version=1)
    (folder / "profile.json").write_text(json.dumps(profile))
    stamp.write_text(json.dumps(wanted))
    return folder


def model_quality(work: Path) -> dict:
    import duckdb
    import pandas as pd

    from ml_assets.evaluation import roc_auc

    con = duckdb.connect(str(work / "warehouse.duckdb"), read_only=True)
    try:
        champion_auc = con.execute(
            "select value from evaluation.evaluation_report where role = 'challenger' "
            "and segment_column = 'overall' and metric = 'auc'"
        ).fetchone()[0]
        test = con.execute("select * from training.training_set where split = 'test'").df()
    finally:
        con.close()
    truth = pd.read_parquet(OUT / "data" / "truth" / "truth.parquet")
    truth["snapshot_date"] = pd.to_datetime(truth["snapshot_date"])
    test["snapshot_date"] = pd.to_datetime(test["snapshot_date"])
    joined = test.merge(truth, on=["customer_id", "snapshot_date"], how="inner")
    y = joined["churned"].astype(int).to_numpy()
    oracle = roc_auc(y, joined["p_true"].to_numpy())
    return {
        "champion_auc": float(champion_auc),
        "oracle_auc": float(oracle),
        "observed_oracle_auc": roc_auc(y, observed_logit(joined)),
        "test_rows": len(test),
        "joined_rows": len(joined),
    }


def observed_logit(features):
    """The generator's churn logit without its unobserved (latent) term.

    The oracle AUC ranks by the true probability, which includes a latent customer trait
    that no landing column carries; this ranks by the part a model can see directly.
    """
    import numpy as np

    from ml_assets_examples.churn import generator

    x = {
        c: features[c].to_numpy()
        for c in (
            "tenure_days",
            "support_calls_30d",
            "monthly_charges",
            "days_since_last_login",
            "logins_30d",
            "auto_renew",
        )
    }
    for col, names in (
        ("contract", generator.CONTRACTS),
        ("payment_method", generator.PAYMENT_METHODS),
    ):
        x[col] = features[col].map({n: i for i, n in enumerate(names)}).to_numpy()
    x["dissatisfaction"] = np.zeros(len(features))
    terms = generator._logit_terms(x)
    terms.pop("latent")
    return sum(terms.values())


def main(argv: list[str]) -> int:
    if argv[0] == "landing":
        out = landing_data(int(argv[1]))
    elif argv[0] == "drift":
        out = {"folder": str(drift_data())}
    elif argv[0] == "quality":
        out = model_quality(Path(argv[1]))
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
