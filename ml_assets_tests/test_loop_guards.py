"""The spec's opt-in keys for rows that share a day's conditions: a test split by date, a
least window for a performance-drift retrain, and the clustered drift rule switched on.
Without them every decision is the one of a spec that does not have them (churn)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml

from ml_assets import modelling as mdl
from ml_assets import settings, steps
from ml_assets.dataset import active_spec, load_spec, spec_problems
from ml_assets.dataset.spec import SplitSpec, spec_from_dict, spec_to_dict

CHURN_SPEC = settings.PROJECT_ROOT / "ml_assets_examples" / "churn" / "spec.yaml"
FLIGHTS_SPEC = settings.PROJECT_ROOT / "ml_assets_examples" / "flights" / "spec.yaml"
START = dt.date(2025, 1, 1)


def day_rows(rows_per_day: list[int], seed: int = 0) -> pd.DataFrame:
    """Rows of consecutive days, shuffled, with an id, a feature x and a category c."""
    rng = np.random.default_rng(seed)
    frames = []
    for i, n in enumerate(rows_per_day):
        effect = rng.normal(0, 1)
        frames.append(
            pd.DataFrame(
                {
                    "id": [f"D{i}-{k}" for k in range(n)],
                    "day": pd.Timestamp(START + dt.timedelta(days=i)),
                    "x": effect + rng.normal(0, 0.3, n),
                    "c": np.where(rng.random(n) < 0.5, "a", "b"),
                    "y": rng.integers(0, 2, n),
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=seed)


# --------------------------------------------------------------------------- split by date


@pytest.mark.parametrize(
    ("n_days", "fraction", "test_days", "expected"),
    [(30, 0.2, None, 6), (14, 0.2, None, 3), (3, 0.2, None, 1), (10, 0.2, 4, 4), (5, 0.2, 9, 4)],
)
def test_split_by_date_tests_on_the_latest_days_only(n_days, fraction, test_days, expected):
    rows = day_rows([40] * n_days)
    split = mdl.split_by_date(rows["day"], fraction, test_days)
    assert split.index.equals(rows.index)
    train_days = rows.loc[split == "train", "day"]
    test_days_seen = rows.loc[split == "test", "day"]
    # Every test day is after every train day; a day is never on both sides.
    assert test_days_seen.min() > train_days.max()
    assert not set(train_days) & set(test_days_seen)
    # The latest `expected` days, counted independently from the sorted distinct dates.
    latest = sorted(rows["day"].unique())[-expected:]
    assert sorted(test_days_seen.unique()) == latest
    assert (split == "test").sum() == rows["day"].isin(latest).sum()


def test_split_by_date_is_deterministic_whatever_the_row_order():
    rows = day_rows([30, 50, 20, 40, 10], seed=1)
    first = mdl.split_by_date(rows["day"], 0.4)
    again = mdl.split_by_date(rows.sample(frac=1.0, random_state=7)["day"], 0.4)
    pd.testing.assert_series_equal(first.sort_index(), again.sort_index())


def test_split_by_date_needs_two_days():
    rows = day_rows([25])
    with pytest.raises(ValueError, match="at least 2 labelled days"):
        mdl.split_by_date(rows["day"], 0.2)


def test_the_spec_chooses_the_split_and_the_default_is_the_id_hash():
    churn = active_spec()
    rows = day_rows([20] * 10).rename(columns={"id": churn.id_column, "day": churn.date_column})
    # Without the key: exactly the id-hash split as before.
    assert churn.split == SplitSpec("id", None)
    pd.testing.assert_series_equal(
        mdl.split_rows(rows, 0.2, churn), mdl.split_by_id(rows[churn.id_column], 0.2)
    )
    by_date = dataclasses.replace(churn, split=SplitSpec("date", 3))
    split = mdl.split_rows(rows, 0.2, by_date)
    latest = sorted(rows[churn.date_column].unique())[-3:]
    assert set(rows.loc[split == "test", churn.date_column]) == set(latest)


# --------------------------------------------------------------------------- least window


def labelled(rows_per_day: list[int]) -> pd.DataFrame:
    churn = active_spec()
    return day_rows(rows_per_day).rename(
        columns={"id": churn.id_column, "day": churn.date_column, "y": churn.target.column}
    )


def window_days(frame: pd.DataFrame) -> list[int]:
    return sorted(frame[active_spec().date_column].dt.day.unique())


def test_min_days_widens_a_performance_retrain_window():
    frame = labelled([5] * 10)
    since = START + dt.timedelta(days=8)  # day 9 of 10
    plain = mdl.select_training_window(frame, 30, since, min_rows=10)
    assert window_days(plain) == [9, 10]
    spec = dataclasses.replace(active_spec(), retrain_min_days=4)
    wide = mdl.select_training_window(frame, 30, since, min_rows=10, spec=spec)
    assert window_days(wide) == [7, 8, 9, 10]
    # A row floor needing more days than min_days still wins; the window caps both.
    more = mdl.select_training_window(frame, 30, since, min_rows=30, spec=spec)
    assert window_days(more) == [5, 6, 7, 8, 9, 10]
    capped = mdl.select_training_window(frame, 3, since, min_rows=0, spec=spec)
    assert window_days(capped) == [8, 9, 10]
    # Without since (input drift, schedule) the key changes nothing.
    assert window_days(mdl.select_training_window(frame, 5, spec=spec)) == [6, 7, 8, 9, 10]


# --------------------------------------------------------------------------- drift rule


def profile_spec(day_effects: bool):
    return dataclasses.replace(
        active_spec(),
        numeric_features=("x",),
        categorical_features=("c",),
        date_column="day",
        drift_day_effects=day_effects,
    )


@pytest.mark.parametrize("day_effects", [False, True])
def test_day_column_reaches_the_profile_only_when_the_key_is_set(day_effects, monkeypatch):
    rows = day_rows([60] * 8)
    spec = profile_spec(day_effects)
    seen = {}
    real = steps.build_reference_profile

    def recording(frame, **kwargs):
        seen.update(kwargs)
        return real(frame, **kwargs)

    monkeypatch.setattr(steps, "build_reference_profile", recording)
    profile = steps.reference_profile(rows, "no-database-needed", None, spec=spec)
    assert seen["day_column"] == ("day" if day_effects else None)
    # The saved profile carries the days' correlation only with the key.
    assert ("n_days" in profile) is day_effects
    assert profile.get("n_days", 8) == 8
    assert ("icc" in profile["numeric"]["x"]) is day_effects


# --------------------------------------------------------------------------- the spec keys


def test_churn_spec_has_the_defaults_and_flights_switches_them_on():
    churn = load_spec(CHURN_SPEC)
    assert (churn.split, churn.drift_day_effects, churn.retrain_min_days) == (
        SplitSpec("id", None),
        False,
        0,
    )
    flights = load_spec(FLIGHTS_SPEC)
    assert flights.split.by == "date"
    assert flights.drift_day_effects is True
    assert flights.retrain_min_days >= 7


def test_the_keys_survive_the_stored_dict_and_an_older_dict_reads_as_defaults():
    flights = load_spec(FLIGHTS_SPEC)
    back = spec_from_dict(spec_to_dict(flights))
    assert (back.split, back.drift_day_effects, back.retrain_min_days) == (
        flights.split,
        flights.drift_day_effects,
        flights.retrain_min_days,
    )
    old = spec_to_dict(flights)
    for key in ("split", "drift_day_effects", "retrain_min_days"):
        old.pop(key)
    older = spec_from_dict(old)
    assert (older.split, older.drift_day_effects, older.retrain_min_days) == (
        SplitSpec(),
        False,
        0,
    )


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("split: {by: week}", "split.by"),
        ("split: {by: id, test_days: 3}", "split.test_days"),
        ("split: {by: date, test_days: 0}", "split.test_days"),
        ("split: {by: date, days: 3}", "split.days"),
        ("drift: {day_effects: maybe}", "drift.day_effects"),
        ("retrain: {min_days: -1}", "retrain.min_days"),
        ("retrain: 14", "retrain"),
    ],
)
def test_a_bad_key_gets_one_line_naming_it(tmp_path, extra, key):
    data = yaml.safe_load(CHURN_SPEC.read_text())
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data) + textwrap.dedent(extra) + "\n")
    problems = spec_problems(path)
    assert len(problems) == 1, problems
    assert key in problems[0] and str(path.name) in problems[0]
