"""Tests of the synthetic landing-file generator (ml_assets_examples.churn.generator)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ml_assets_examples.churn import generator as g
from ml_assets_tests.conftest import CHURN_LANDING_COLUMNS

START = dt.date(2025, 1, 1)
NUMERIC = (
    "monthly_charges",
    "total_charges",
    "support_calls_30d",
    "logins_30d",
    "avg_session_minutes",
    "days_since_last_login",
)
FEATURES = [c for c in g.LANDING_COLUMNS if c != "churned"]


def day(i: int) -> dt.date:
    return START + dt.timedelta(days=i)


def run(tmp: Path, name: str, fmt: str = "csv", **kwargs) -> tuple[dict, Path, Path]:
    """Generate into ``tmp/name`` and return the summary and both folders."""
    config = g.GeneratorConfig(start=START, **kwargs)
    landing, truth = tmp / name / "landing", tmp / name / "truth"
    summary = g.generate(config, landing, truth, fmt=fmt, progress=None)
    return summary, landing, truth


def read_csv(path: Path) -> pd.DataFrame:
    """Independent reader of the CSV contract (does not use the generator's code)."""
    frame = pd.read_csv(
        path,
        dtype={
            "customer_id": str,
            "plan": str,
            "contract": str,
            "payment_method": str,
            "region": str,
            "auto_renew": str,
            "churned": "Int64",
        },
        parse_dates=["snapshot_date", "signup_date"],
        keep_default_na=False,
        na_values=[""],
    )
    assert set(frame["auto_renew"]) <= {"true", "false"}
    frame["auto_renew"] = frame["auto_renew"] == "true"
    return frame


def read_days(landing: Path, fmt: str = "csv") -> pd.DataFrame:
    paths = sorted(landing.glob(f"customers_*.{fmt}"))
    frames = [read_csv(p) if fmt == "csv" else pd.read_parquet(p) for p in paths]
    return pd.concat(frames, ignore_index=True)


def collect(config: g.GeneratorConfig, days: range) -> tuple[pd.DataFrame, np.ndarray]:
    frames, probs = zip(*(g.generate_day(config, day(i)) for i in days), strict=True)
    return pd.concat(frames, ignore_index=True), np.concatenate(probs)


# --------------------------------------------------------------------------- schema


def test_public_constants() -> None:
    assert g.LANDING_COLUMNS == CHURN_LANDING_COLUMNS
    assert g.PLANS == ("basic", "standard", "premium")
    assert g.CONTRACTS == ("monthly", "annual", "two_year")
    assert g.PAYMENT_METHODS == ("card", "bank_transfer", "paypal", "invoice")
    assert g.REGIONS == ("north", "south", "east", "west")
    assert g.SCENARIOS == ("none", "covariate", "category_mix", "concept", "null_spike")


def check_contract(frame: pd.DataFrame, snapshot: dt.date) -> None:
    """Every rule of the landing contract, on a frame with proper dtypes."""
    assert list(frame.columns) == g.LANDING_COLUMNS
    assert frame["customer_id"].notna().all() and frame["customer_id"].is_unique
    assert frame["customer_id"].str.fullmatch(r"C\d{7,}").all()
    assert (frame["snapshot_date"] == pd.Timestamp(snapshot)).all()
    assert (frame["signup_date"] <= frame["snapshot_date"]).all()
    for col, allowed in [
        ("plan", g.PLANS),
        ("contract", g.CONTRACTS),
        ("payment_method", g.PAYMENT_METHODS),
        ("region", g.REGIONS),
    ]:
        assert set(frame[col]) <= set(allowed), col
    for col in NUMERIC:
        assert (frame[col].dropna() >= 0).all(), col
    for col in ("monthly_charges", "total_charges", "avg_session_minutes"):
        values = frame[col].dropna().to_numpy()
        assert np.allclose(values, np.round(values, 2), rtol=0, atol=1e-9), col
    for col in ("support_calls_30d", "logins_30d", "days_since_last_login"):
        assert frame[col].dtype == np.int64, col
    assert frame["auto_renew"].dtype == bool
    assert str(frame["churned"].dtype) == "Int64"
    assert set(frame["churned"].dropna()) <= {0, 1}
    # Nulls only where the contract allows them, and for the documented reasons.
    null_cols = {c for c in g.LANDING_COLUMNS if frame[c].isna().any()}
    assert null_cols <= {"total_charges", "avg_session_minutes", "churned"}
    tenure = (frame["snapshot_date"] - frame["signup_date"]).dt.days
    assert (frame["total_charges"].isna() == (tenure < 30)).all()
    assert frame.loc[frame["logins_30d"] == 0, "avg_session_minutes"].isna().all()


def test_generate_day_follows_the_contract() -> None:
    config = g.GeneratorConfig(rows_per_day=3000)
    frame, p_true = g.generate_day(config, day(3))
    assert len(frame) == 3000 and p_true.shape == (3000,)
    assert ((p_true > 0) & (p_true < 1)).all()
    check_contract(frame, day(3))
    assert pd.api.types.is_datetime64_any_dtype(frame["snapshot_date"])
    # Each allowed kind of null actually occurs, at roughly the documented rate.
    assert 0.002 < frame["total_charges"].isna().mean() < 0.05
    assert 0.01 < frame["avg_session_minutes"].isna().mean() < 0.08
    assert 0.002 < frame["churned"].isna().mean() < 0.03


def test_csv_file_format_and_round_trip(tmp_path: Path) -> None:
    config = dict(days=2, rows_per_day=500, seed=5)
    summary, landing, truth = run(tmp_path, "csv", **config)
    assert sorted(p.name for p in landing.iterdir()) == [
        "customers_2025-01-01.csv",
        "customers_2025-01-02.csv",
    ]  # and no temp files left behind
    assert sorted(p.name for p in truth.iterdir()) == ["scenario.json", "truth.parquet"]
    assert summary["n_files"] == 2 and summary["rows"] == 1000

    path = landing / "customers_2025-01-02.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(g.LANDING_COLUMNS)
    assert len(lines) == 501
    float_field = re.compile(r"^(\d+\.\d{2})?$")
    for line in lines[1:]:
        fields = line.split(",")
        assert len(fields) == 15
        assert fields[1] == "2025-01-02" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", fields[2])
        assert fields[13] in ("true", "false")
        assert fields[14] in ("0", "1", "")
        for i in (7, 8, 11):
            assert float_field.match(fields[i]), line
        assert fields[7] and fields[0]  # never null

    expected, _ = g.generate_day(g.GeneratorConfig(start=START, **config), day(1))
    got = read_csv(path)
    check_contract(got, day(1))
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_parquet_round_trip(tmp_path: Path) -> None:
    _, landing, truth = run(tmp_path, "pq", fmt="parquet", days=1, rows_per_day=400)
    assert [p.name for p in landing.iterdir()] == ["customers_2025-01-01.parquet"]
    got = pd.read_parquet(landing / "customers_2025-01-01.parquet")
    expected, p_true = g.generate_day(g.GeneratorConfig(rows_per_day=400), START)
    assert list(got.columns) == g.LANDING_COLUMNS
    assert str(got["churned"].dtype) == "Int64"
    for col in ("snapshot_date", "signup_date"):
        got[col] = pd.to_datetime(got[col])
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    truth_frame = pd.read_parquet(truth / "truth.parquet")
    assert list(truth_frame.columns) == ["customer_id", "snapshot_date", "p_true"]
    np.testing.assert_array_equal(truth_frame["p_true"].to_numpy(), p_true)


# --------------------------------------------------------------------------- determinism


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_arguments_give_identical_bytes(tmp_path: Path, fmt: str) -> None:
    kwargs = dict(
        days=3,
        rows_per_day=300,
        seed=11,
        scenario="null_spike",
        drift_start=day(1),
        drift_magnitude=0.4,
    )
    _, landing_a, truth_a = run(tmp_path, "a", fmt=fmt, **kwargs)
    _, landing_b, truth_b = run(tmp_path, "b", fmt=fmt, **kwargs)
    assert file_bytes(landing_a) == file_bytes(landing_b)
    assert file_bytes(truth_a) == file_bytes(truth_b)
    _, landing_c, _ = run(tmp_path, "c", fmt=fmt, **{**kwargs, "seed": 12})
    assert file_bytes(landing_c) != file_bytes(landing_a)


def test_a_day_does_not_depend_on_how_many_days_are_generated(tmp_path: Path) -> None:
    kwargs = dict(rows_per_day=300, scenario="covariate", drift_start=day(1))
    _, short, _ = run(tmp_path, "short", days=3, **kwargs)
    _, long, _ = run(tmp_path, "long", days=6, **kwargs)
    short_files, long_files = file_bytes(short), file_bytes(long)
    assert len(short_files) == 3 and len(long_files) == 6
    for name, data in short_files.items():
        assert long_files[name] == data


def test_pre_onset_days_match_scenario_none(tmp_path: Path) -> None:
    # The drift has its own random stream, so before the onset every scenario writes
    # exactly what scenario none writes.
    _, none, _ = run(tmp_path, "none", days=3, rows_per_day=300)
    _, drift, _ = run(
        tmp_path, "drift", days=3, rows_per_day=300, scenario="concept", drift_start=day(2)
    )
    a, b = file_bytes(none), file_bytes(drift)
    assert a["customers_2025-01-01.csv"] == b["customers_2025-01-01.csv"]
    assert a["customers_2025-01-02.csv"] == b["customers_2025-01-02.csv"]
    assert a["customers_2025-01-03.csv"] != b["customers_2025-01-03.csv"]


# --------------------------------------------------------------------------- churn and AUC


def test_rank_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    labels = rng.random(5000) < 0.3
    scores = np.round(rng.random(5000) + 0.5 * labels, 1)  # coarse: many ties
    assert g.rank_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert np.isnan(g.rank_auc(scores, np.zeros(5000)))


def test_churn_rate_and_oracle_auc(tmp_path: Path) -> None:
    summary, landing, truth = run(
        tmp_path, "s", days=4, rows_per_day=5000, seed=3, scenario="none", drift_start=day(2)
    )
    assert 0.15 <= summary["churn_rate"] <= 0.25
    assert 0.75 <= summary["oracle_auc"] <= 0.90

    # Recompute both from the files with independent tools.
    rows = read_days(landing)
    truth_frame = pd.read_parquet(truth / "truth.parquet")
    truth_frame["snapshot_date"] = pd.to_datetime(truth_frame["snapshot_date"])
    merged = rows.merge(truth_frame, on=["customer_id", "snapshot_date"], validate="1:1")
    assert len(merged) == len(rows) == len(truth_frame) == 20000
    labelled = merged.dropna(subset=["churned"])
    assert summary["churn_rate"] == pytest.approx(labelled["churned"].mean(), abs=1e-6)
    sk_auc = roc_auc_score(labelled["churned"].astype(int), labelled["p_true"])
    assert summary["oracle_auc"] == pytest.approx(sk_auc, abs=1e-6)
    pre = labelled[labelled["snapshot_date"] < pd.Timestamp(day(2))]
    sk_pre = roc_auc_score(pre["churned"].astype(int), pre["p_true"])
    assert summary["oracle_auc_pre_onset"] == pytest.approx(sk_pre, abs=1e-6)

    scenario = json.loads((truth / "scenario.json").read_text())
    assert scenario["oracle_auc"] == summary["oracle_auc"]
    assert scenario["oracle_auc_pre_onset"] == summary["oracle_auc_pre_onset"]
    expected = {
        "scenario": "none",
        "drift_start": "2025-01-03",
        "seed": 3,
        "start": "2025-01-01",
        "days": 4,
        "rows_per_day": 5000,
        "drift_magnitude": 0.5,
        "drift_columns": [],
    }
    assert {k: scenario[k] for k in expected} == expected
    # Labels follow p_true: calibrated up to the 3 % symmetric label flips.
    expected_rate = labelled["p_true"].mean() * (1 - 2 * g.LABEL_FLIP_RATE) + g.LABEL_FLIP_RATE
    assert labelled["churned"].mean() == pytest.approx(expected_rate, abs=0.015)


def test_realistic_correlations() -> None:
    frame, p_true = collect(g.GeneratorConfig(rows_per_day=6000), range(2))
    tenure = (frame["snapshot_date"] - frame["signup_date"]).dt.days
    long_tenure = tenure > tenure.median()
    monthly = frame["contract"] == "monthly"
    assert monthly[long_tenure].mean() < monthly[~long_tenure].mean() - 0.05
    charges = frame.groupby("plan")["monthly_charges"].mean()
    assert charges["basic"] < charges["standard"] < charges["premium"]
    renew = frame.groupby("contract")["auto_renew"].mean()
    assert renew["monthly"] < renew["annual"] < renew["two_year"]
    ratio = frame["total_charges"] / (frame["monthly_charges"] * tenure / 30.44)
    assert ratio.median() == pytest.approx(1.0, abs=0.02)
    assert np.corrcoef(frame["logins_30d"], frame["days_since_last_login"])[0, 1] < -0.2
    # Observed risk rises with support calls and with days since the last login.
    risk = pd.Series(p_true).groupby(frame["support_calls_30d"].clip(upper=5)).mean()
    assert risk.is_monotonic_increasing
    idle = pd.Series(p_true).groupby(frame["days_since_last_login"] >= 30).mean()
    assert idle[True] > idle[False] + 0.1


def test_churn_logit_is_non_linear() -> None:
    def logit(**changes: np.ndarray) -> np.ndarray:
        n = len(next(iter(changes.values())))
        inputs = {
            "tenure_days": np.full(n, 900),
            "support_calls_30d": np.zeros(n, dtype=int),
            "days_since_last_login": np.full(n, 3),
            "logins_30d": np.full(n, 10),
            "monthly_charges": np.full(n, 60.0),
            "contract": np.zeros(n, dtype=int),
            "auto_renew": np.zeros(n, dtype=bool),
            "payment_method": np.zeros(n, dtype=int),
            "dissatisfaction": np.zeros(n),
        } | changes
        return sum(g._logit_terms(inputs).values())

    calls = logit(support_calls_30d=np.array([0, 2, 4]))
    assert calls[2] - calls[1] > 3 * (calls[1] - calls[0]) > 0  # threshold above 2 calls
    days = logit(days_since_last_login=np.array([0, 7, 14, 28]))
    assert days[1] - days[0] > 2 * (days[3] - days[2]) > 0  # logarithmic recency effect
    tenure = logit(tenure_days=np.array([0, 180, 360, 1500, 3000]))
    assert tenure[0] - tenure[1] > 2 * (tenure[1] - tenure[2]) > 0  # decaying new-customer risk
    assert tenure[3] - tenure[4] < 0.01  # ... that is gone for long-standing customers
    # High charges hurt far more on a monthly contract than on an annual one.
    monthly = logit(monthly_charges=np.array([60.0, 110.0]), contract=np.array([0, 0]))
    annual = logit(monthly_charges=np.array([60.0, 110.0]), contract=np.array([1, 1]))
    assert monthly[1] - monthly[0] > 3 * (annual[1] - annual[0]) > 0
    assert np.diff(logit(auto_renew=np.array([False, True])))[0] < 0
    assert np.diff(logit(payment_method=np.array([0, 3])))[0] > 0  # invoice is risky


# --------------------------------------------------------------------------- scenarios


def drift_pair(scenario: str, columns: tuple[str, ...], magnitude: float, rows: int = 4000):
    """Rows of the drift scenario and of scenario none (same seed), days 0-5, onset day 3."""
    drift = g.GeneratorConfig(
        rows_per_day=rows,
        scenario=scenario,
        drift_start=day(3),
        drift_columns=columns,
        drift_magnitude=magnitude,
    )
    frame, p = collect(drift, range(6))
    base, p_base = collect(g.GeneratorConfig(rows_per_day=rows), range(6))
    post = (frame["snapshot_date"] >= pd.Timestamp(day(3))).to_numpy()
    return drift, frame, p, base, p_base, post


def test_covariate_shift_moves_only_the_chosen_columns() -> None:
    columns = ("monthly_charges", "support_calls_30d")
    config, frame, p, base, p_base, post = drift_pair("covariate", columns, 0.5)
    pre_rows, post_rows = frame[~post], frame[post]
    for col in columns:
        sd_pre = pre_rows[col].std()
        moved = post_rows[col].mean() - pre_rows[col].mean()
        assert moved == pytest.approx(0.5 * sd_pre, rel=0.15), col
        # Paired with scenario none (same customers, same noise): the exact shift.
        delta = post_rows[col].to_numpy() - base[post][col].to_numpy()
        assert delta.mean() == pytest.approx(0.5 * g._reference(config).sd[col], rel=0.05)
        assert (post_rows[col] >= 0).all()
    assert post_rows["support_calls_30d"].dtype == np.int64
    # Other columns: untouched, and their post-onset distribution matches pre-onset.
    others = [c for c in FEATURES if c not in columns]
    pd.testing.assert_frame_equal(frame[others], base[others])
    for col in ("total_charges", "logins_30d", "avg_session_minutes", "days_since_last_login"):
        sd = pre_rows[col].std()
        assert abs(post_rows[col].mean() - pre_rows[col].mean()) < 0.05 * sd, col
    # Churn follows the shifted inputs through the unchanged relation.
    assert p[post].mean() > p_base[post].mean()
    np.testing.assert_array_equal(p[~post], p_base[~post])


def test_covariate_shift_on_a_mostly_zero_count_stays_integral_and_nonnegative() -> None:
    _, frame, _, base, _, post = drift_pair("covariate", ("support_calls_30d",), -1.0, rows=2000)
    shifted = frame.loc[post, "support_calls_30d"]
    assert shifted.dtype == np.int64 and (shifted >= 0).all()
    assert shifted.mean() < base.loc[post, "support_calls_30d"].mean()


def test_category_mix_moves_customers_to_monthly() -> None:
    _, frame, p, base, p_base, post = drift_pair("category_mix", ("contract",), 0.5)
    share_pre = (frame.loc[~post, "contract"] == "monthly").mean()
    share_post = (frame.loc[post, "contract"] == "monthly").mean()
    share_base = (base.loc[post, "contract"] == "monthly").mean()
    assert share_post == pytest.approx(share_base + 0.5 * (1 - share_base), abs=0.03)
    assert share_post > share_pre + 0.2
    others = [c for c in FEATURES if c != "contract"]
    pd.testing.assert_frame_equal(frame[others], base[others])
    assert p[post].mean() > p_base[post].mean()  # monthly contracts churn more


def test_null_spike_raises_the_null_fraction() -> None:
    _, frame, p, base, p_base, post = drift_pair("null_spike", ("avg_session_minutes",), 0.3)
    col = frame["avg_session_minutes"]
    base_rate = base.loc[post, "avg_session_minutes"].isna().mean()
    assert col[~post].isna().mean() < 0.06
    assert col[post].isna().mean() == pytest.approx(base_rate + (1 - base_rate) * 0.3, abs=0.03)
    # Only nulls were added: remaining values are the undrifted ones.
    kept = post & col.notna().to_numpy()
    np.testing.assert_array_equal(col[kept], base.loc[kept, "avg_session_minutes"])
    np.testing.assert_array_equal(p, p_base)


def test_null_spike_on_the_label() -> None:
    _, frame, _, _, _, post = drift_pair("null_spike", ("churned",), 0.5, rows=1000)
    assert frame.loc[post, "churned"].isna().mean() == pytest.approx(0.5, abs=0.05)
    assert frame.loc[~post, "churned"].isna().mean() < 0.03


def test_concept_drift_keeps_inputs_but_changes_the_relation() -> None:
    _, frame, p, base, p_base, post = drift_pair("concept", ("support_calls_30d",), 1.0)
    # Inputs are exactly those of scenario none, so their distribution cannot move.
    pd.testing.assert_frame_equal(frame[FEATURES], base[FEATURES])
    np.testing.assert_array_equal(p[~post], p_base[~post])
    calls = frame["support_calls_30d"].to_numpy()
    # Same rows, same inputs: the change in log-odds is the change in the relation, and
    # magnitude 1 reverses the support-call effect (around its pre-onset mean).
    shift = np.log(p / (1 - p)) - np.log(p_base / (1 - p_base))
    change = pd.Series(shift[post]).groupby(np.minimum(calls[post], 6)).mean()
    assert change.is_monotonic_decreasing
    assert change[0] > 0 > change[4] + 1
    # The observed gap between callers and non-callers shrinks (calls still proxy the
    # unobserved dissatisfaction, so it need not vanish).
    high, low = calls >= 4, calls == 0

    def gap(mask: np.ndarray) -> float:
        return p[mask & high].mean() - p[mask & low].mean()

    assert gap(post) < 0.5 * gap(~post)
    # Recentring keeps the overall churn level close to where it was.
    assert p[post].mean() == pytest.approx(p_base[post].mean(), abs=0.03)


def test_concept_default_columns_at_half_magnitude_remove_both_effects() -> None:
    config, frame, p, base, p_base, post = drift_pair("concept", (), 0.5, rows=3000)
    assert config.resolved_drift_columns == ("support_calls_30d", "monthly_charges")
    pd.testing.assert_frame_equal(frame[FEATURES], base[FEATURES])
    shift = (np.log(p / (1 - p)) - np.log(p_base / (1 - p_base)))[post]
    rows = frame[post].assign(shift=shift)
    # Removing an effect lowers the risk where it was high and raises it where it was low.
    by_calls = rows.groupby(rows["support_calls_30d"].clip(upper=5))["shift"].mean()
    assert by_calls.is_monotonic_decreasing and by_calls[0] > 0 > by_calls[5]
    monthly = rows[rows["contract"] == "monthly"]
    by_charges = monthly.groupby(pd.qcut(monthly["monthly_charges"], 5), observed=True)["shift"]
    assert by_charges.mean().is_monotonic_decreasing
    # Columns outside the drift keep their effect: the shift does not depend on them.
    by_region = rows.groupby("region")["shift"].mean()
    assert by_region.max() - by_region.min() < 0.1


# --------------------------------------------------------------------------- config and CLI


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(scenario="wobble"), "unknown scenario"),
        (dict(scenario="covariate"), "drift start"),
        (dict(scenario="covariate", drift_start=day(-1)), "before the start"),
        (
            dict(scenario="covariate", drift_start=day(1), drift_columns=("plan",)),
            "unknown drift column",
        ),
        (dict(drift_columns=("monthly_charges",)), "no drift"),
        (dict(scenario="null_spike", drift_start=day(1), drift_magnitude=1.5), "between 0 and 1"),
        (dict(days=0), "days"),
        (dict(rows_per_day=0), "rows_per_day"),
    ],
)
def test_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        g.GeneratorConfig(**kwargs)


def test_truth_folder_must_be_outside_the_landing_folder(tmp_path: Path) -> None:
    config = g.GeneratorConfig(days=1, rows_per_day=10)
    for truth in (tmp_path / "l", tmp_path / "l" / "truth"):
        with pytest.raises(ValueError, match="outside the landing folder"):
            g.generate(config, tmp_path / "l", truth, progress=None)


def test_generate_day_refuses_days_before_start() -> None:
    with pytest.raises(ValueError, match="before the start"):
        g.generate_day(g.GeneratorConfig(rows_per_day=10), day(-1))


def cli(tmp_path: Path, *args: str) -> int:
    return g.cli_main(
        ["--landing-dir", str(tmp_path / "l"), "--truth-dir", str(tmp_path / "t"), *args]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "wobble"], "unknown scenario"),
        (["--scenario", "covariate"], "--drift-start"),
        (["--scenario", "covariate", "--drift-start", "2025-03-15"], "outside the generated"),
        (["--scenario", "covariate", "--drift-start", "2024-12-31"], "outside the generated"),
        (
            ["--scenario", "covariate", "--drift-start", "2025-01-05", "--drift-columns", "nope"],
            "unknown drift column",
        ),
        (["--drift-start", "2025-13-01"], "YYYY-MM-DD"),
        (["--days", "0"], "at least 1"),
        (["--format", "xlsx"], "invalid choice"),
    ],
)
def test_cli_errors_exit_2_with_a_message(tmp_path: Path, capsys, args, message) -> None:
    assert cli(tmp_path, "--days", "10", "--rows-per-day", "5", *args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "l").exists()


def test_cli_writes_files_and_reports(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ML_ASSETS_DATA_DIR", str(tmp_path / "data"))
    code = g.cli_main(
        [
            "--days",
            "12",
            "--rows-per-day",
            "50",
            "--scenario",
            "covariate",
            "--drift-start",
            "2025-01-06",
            "--drift-columns",
            "monthly_charges, days_since_last_login",
            "--drift-magnitude",
            "1.0",
            "--format",
            "parquet",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 3  # progress after 10 and 12 days, then the summary
    assert "12 files" in out[-1] and "600 rows" in out[-1] and "oracle AUC" in out[-1]
    landing = tmp_path / "data" / "landing"
    assert len(list(landing.glob("customers_*.parquet"))) == 12
    scenario = json.loads((tmp_path / "data" / "truth" / "scenario.json").read_text())
    assert scenario["drift_columns"] == ["monthly_charges", "days_since_last_login"]
    assert scenario["drift_start"] == "2025-01-06" and scenario["format"] == "parquet"
    assert set(scenario["shift"]) == {"monthly_charges", "days_since_last_login"}


def test_relative_data_dir_resolves_as_the_pipeline_resolves_it(monkeypatch, tmp_path):
    """A relative ML_ASSETS_DATA_DIR means the same folder to the generator and to settings
    (relative to the project root), whatever the current directory."""
    from ml_assets import settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ML_ASSETS_DATA_DIR", "some/relative/data")
    assert g.default_data_dir() == settings.data_dir()
    assert g.default_data_dir() == settings.PROJECT_ROOT / "some" / "relative" / "data"
