"""Derived columns of the flights example: row-wise and stateless.

A row's derived values depend on that row alone, so the function gives the same result on a
whole day in the warehouse and on a single serving request (it also runs inside the served
model). The month is deliberately not a feature: the season is the drift itself, and a model
that keys on the month cannot learn anything for a month it has not seen.
"""

from __future__ import annotations

import pandas as pd

DERIVED_COLUMNS = [
    "dep_hour",
    "day_of_week",
    "weekend",
    "precip_any",
    "low_visibility",
    "dew_spread",
]
# Below three statute miles visibility, instrument approaches and flow control start.
LOW_VISIBILITY_MILES = 3.0


def derive(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with the derived columns added (the input is not modified).

    Parameters
    ----------
    rows
        Landing-schema rows of the flights spec: at least ``flight_date``, ``sched_dep_time``,
        ``precip``, ``visib``, ``temp`` and ``dewp``; nulls in the weather stay null.

    Returns
    -------
    pandas.DataFrame
        ``rows`` plus ``dep_hour`` (scheduled departure hour, 0-23), ``day_of_week``
        (Monday 0), ``weekend`` (0/1), ``precip_any`` (0/1, null without a reading),
        ``low_visibility`` (0/1, null without a reading) and ``dew_spread`` (temperature minus
        dew point in F: near 0 means fog or low cloud).
    """
    out = rows.copy()
    dates = pd.to_datetime(out["flight_date"])
    sched = pd.to_numeric(out["sched_dep_time"]).astype("int64")
    # 2400 is a scheduled midnight departure in the source: hour 0, not 24.
    out["dep_hour"] = (sched // 100) % 24
    out["day_of_week"] = dates.dt.dayofweek.astype("int64")
    out["weekend"] = (out["day_of_week"] >= 5).astype("int64")
    precip = pd.to_numeric(out["precip"]).astype("float64")
    visib = pd.to_numeric(out["visib"]).astype("float64")
    out["precip_any"] = (precip > 0).astype("float64").where(precip.notna())
    out["low_visibility"] = (visib < LOW_VISIBILITY_MILES).astype("float64").where(visib.notna())
    out["dew_spread"] = pd.to_numeric(out["temp"]).astype("float64") - pd.to_numeric(
        out["dewp"]
    ).astype("float64")
    return out
