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
    """The derived columns of landing rows, on the rows' index (the input is not modified).

    Parameters
    ----------
    rows
        Landing-schema rows of the flights spec: at least ``flight_date``, ``sched_dep_time``,
        ``precip``, ``visib``, ``temp`` and ``dewp``; nulls in the weather stay null.

    Returns
    -------
    pandas.DataFrame
        ``dep_hour`` (scheduled departure hour, 0-23), ``day_of_week`` (Monday 0),
        ``weekend`` (0/1), ``precip_any`` (0/1, null without a reading), ``low_visibility``
        (0/1, null without a reading) and ``dew_spread`` (temperature minus dew point in F:
        near 0 means fog or low cloud).
    """
    dates = pd.to_datetime(rows["flight_date"])
    sched = pd.to_numeric(rows["sched_dep_time"]).astype("int64")
    precip = pd.to_numeric(rows["precip"]).astype("float64")
    visib = pd.to_numeric(rows["visib"]).astype("float64")
    temp = pd.to_numeric(rows["temp"]).astype("float64")
    dewp = pd.to_numeric(rows["dewp"]).astype("float64")
    day_of_week = dates.dt.dayofweek.astype("int64")
    out = pd.DataFrame(
        {
            # 2400 is a scheduled midnight departure in the source: hour 0, not 24.
            "dep_hour": (sched // 100) % 24,
            "day_of_week": day_of_week,
            "weekend": (day_of_week >= 5).astype("int64"),
            "precip_any": (precip > 0).astype("float64").where(precip.notna()),
            "low_visibility": (visib < LOW_VISIBILITY_MILES).astype("float64").where(visib.notna()),
            "dew_spread": temp - dewp,
        },
        index=rows.index,
    )
    return out[DERIVED_COLUMNS]


def restore_landing(features: pd.DataFrame) -> pd.DataFrame:
    """Landing columns the feature table does not carry, from the ones it does.

    The scheduled departure comes back as the full hour (``dep_hour * 100``), which derives
    the same ``dep_hour``; the scheduled arrival is not a feature and is set to the same time.
    Used for the registered model's input example.
    """
    sched = (features["dep_hour"].astype("int64") * 100).astype("int64")
    return pd.DataFrame({"sched_dep_time": sched, "sched_arr_time": sched}, index=features.index)
