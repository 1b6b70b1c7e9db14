"""Loading a range of days from the landing folder into validated raw rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ml_assets.landing import check_partition_day, find_landing_file, load_landing_file
from ml_assets.schemas import CustomerSnapshot


def load_days(
    landing_dir: Path,
    days: list[dt.date],
    partitions_start: dt.date,
    log: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Validated ``raw.customer_snapshots`` rows for each day, in the table's column order.

    Any bad file raises before anything is returned, so a range is written all or nothing.
    """
    frames = []
    for day in days:
        check_partition_day(day, partitions_start)
        landing_file = find_landing_file(landing_dir, day)
        rows = load_landing_file(landing_file)
        rows["source_file"] = landing_file.path.name
        frames.append(rows)
        if log:
            log(f"{landing_file.path.name}: {len(rows)} rows valid")
    snapshots = pd.concat(frames, ignore_index=True)
    return CustomerSnapshot.validate(snapshots)
