"""A lasting shift is one drift event: the reference of a model retrained for it.

The churn generator's covariate scenario shifts monthly_charges by one SD from SHIFT on and
keeps it there; from SECOND on, support_calls_30d shifts too. A model retrained on the day of
the first shift with the training window as its reference (the behaviour before) sees every
later day as drifted; with the reference of the new regime (steps.reference_profile) the
later days are calm, and the second shift is still caught.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from ml_assets import steps, warehouse
from ml_assets.drift import DriftRules, prepare_profile
from ml_assets.ingest import load_days
from ml_assets_examples.churn import generator

START = dt.date(2025, 1, 1)
SHIFT = START + dt.timedelta(days=30)
SECOND = START + dt.timedelta(days=45)
LAST = START + dt.timedelta(days=59)


def _config(columns: tuple[str, ...]) -> generator.GeneratorConfig:
    return generator.GeneratorConfig(
        start=START,
        days=60,
        rows_per_day=800,
        seed=23,
        scenario="covariate",
        drift_start=SHIFT,
        drift_columns=columns,
        drift_magnitude=1.0,
    )


@pytest.fixture(scope="module")
def features(tmp_path_factory) -> pd.DataFrame:
    landing = tmp_path_factory.mktemp("landing")
    first, second = _config(("monthly_charges",)), _config(("monthly_charges", "support_calls_30d"))
    days = [START + dt.timedelta(days=i) for i in range(60)]
    for day in days:
        frame, _ = generator.generate_day(first if day < SECOND else second, day)
        generator.write_landing_file(frame, landing, day)
    return steps.build_features(load_days(landing, days, START)).value


def _store(features: pd.DataFrame, path, last: dt.date) -> str:
    """A warehouse holding the feature days up to ``last`` (what a retrain on that day sees)."""
    database = str(path / "warehouse.duckdb")
    rows = features[features["snapshot_date"].dt.date <= last]
    with warehouse.connect(database) as con:
        warehouse.replace_rows(con, "features", "customer_features", rows)
    return database


def _flags(features: pd.DataFrame, profile: dict, first: dt.date, last: dt.date) -> dict:
    dates = features["snapshot_date"].dt.date
    rows = features[(dates >= first) & (dates <= last)]
    prepared = prepare_profile({**profile, "model_version": 2})
    result = steps.drift_days(rows, prepared, DriftRules(), 2)
    return {day: meta["drifted_features"] for day, meta in result.per_day.items()}


def test_a_lasting_shift_is_one_event_and_a_new_shift_is_still_caught(features, tmp_path):
    database = _store(features, tmp_path, SHIFT)
    dates = features["snapshot_date"].dt.date
    window = features[(dates > SHIFT - dt.timedelta(days=30)) & (dates <= SHIFT)]

    before = steps.reference_profile(window, database, regime=None)
    assert before["reference_kind"] == "training window" and before["n_rows"] == len(window)
    after = steps.reference_profile(window, database, regime=str(SHIFT))
    # The new regime's rows only: the feature days from the shift to the newest one stored.
    assert after["reference_kind"] == "since the shift"
    assert after["n_rows"] == int((dates == SHIFT).sum())
    assert (after["reference_start"], after["regime_start"]) == (str(SHIFT), str(SHIFT))
    assert after["window_end"] == before["window_end"] == str(SHIFT)

    lasting = (SHIFT + dt.timedelta(days=1), SECOND - dt.timedelta(days=1))
    old_flags = _flags(features, before, *lasting)
    # Against the training window, the lasting shift is flagged every day (today's alarm).
    assert all("monthly_charges" in f for f in old_flags.values()), old_flags
    new_flags = _flags(features, after, *lasting)
    assert sum(bool(f) for f in new_flags.values()) <= 1, new_flags
    second = _flags(features, after, SECOND, LAST)
    assert all("support_calls_30d" in f for f in second.values()), second
    assert all("monthly_charges" not in f for f in second.values()), second


def test_the_regime_carries_over_to_later_retrains_while_inside_their_window(features, tmp_path):
    assert steps.regime_start("2025-02-03T00:00:00", None) == "2025-02-03"
    assert steps.regime_start(None, {"regime_start": "2025-01-31"}) == "2025-01-31"
    assert steps.regime_start(None, {"window_end": "2025-01-31"}) is None
    # A weekly retrain a week after the shift: the reference is the week since the shift.
    week = SHIFT + dt.timedelta(days=7)
    database = _store(features, tmp_path, week)
    dates = features["snapshot_date"].dt.date
    window = features[(dates > week - dt.timedelta(days=30)) & (dates <= week)]
    carried = steps.reference_profile(window, database, regime=str(SHIFT))
    assert carried["n_rows"] == int(((dates >= SHIFT) & (dates <= week)).sum())
    # Once the shift lies before the training window, the window is the reference again.
    late = features[(dates > SHIFT) & (dates <= week)]
    assert steps.reference_profile(late, database, str(SHIFT))["reference_kind"] == (
        "training window"
    )


def test_a_reference_too_small_is_widened_with_the_days_before(features, tmp_path):
    database = _store(features, tmp_path, SHIFT)
    dates = features["snapshot_date"].dt.date
    rows = steps.read_reference_rows(database, SHIFT, min_rows=int((dates == SHIFT).sum()) + 1)
    assert sorted(set(rows["snapshot_date"].dt.date)) == [SHIFT - dt.timedelta(days=1), SHIFT]
