"""Loading a range of days from the landing folder into validated raw rows."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ml_assets.dataset import DatasetSpec, active_spec
from ml_assets.dataset.schemas import raw_model
from ml_assets.landing import (
    LandingFileError,
    check_partition_day,
    find_landing_file,
    load_landing_file,
)
from ml_assets.schemas import Quarantine


def load_days(
    landing_dir: Path,
    days: list[dt.date],
    partitions_start: dt.date,
    log: Callable[[str], None] | None = None,
    spec: DatasetSpec | None = None,
) -> pd.DataFrame:
    """Validated raw-table rows for each day, in the table's column order (the spec's raw
    model; None means the active spec).

    Any bad file raises before anything is returned, so a range is written all or nothing.
    """
    spec = spec if spec is not None else active_spec()
    frames = []
    for day in days:
        landing_file = None
        try:
            check_partition_day(day, partitions_start)
            landing_file = find_landing_file(landing_dir, day, spec)
            rows = load_landing_file(landing_file, spec)
        except LandingFileError as exc:
            # Which day and file failed, for the quarantine record and the run's metadata.
            exc.day = day
            exc.path = landing_file.path if landing_file is not None else None
            raise
        rows["source_file"] = landing_file.path.name
        frames.append(rows)
        if log:
            log(f"{landing_file.path.name}: {len(rows)} rows valid")
    snapshots = pd.concat(frames, ignore_index=True)
    return raw_model(spec).validate(snapshots)


def refusal_record(
    error: LandingFileError, day: dt.date, run_id: str, spec: DatasetSpec | None = None
) -> pd.DataFrame:
    """One ``raw.quarantine`` row for a refused file: which file, its hash, and why.

    The policy is whole-file refusal: no row of a bad file is ingested, and the file stays
    in the landing folder as it was; this row is the audit trail of the refusal.
    """
    path: Path | None = getattr(error, "path", None)
    name = path.name if path is not None else ""
    digest, size = "", -1
    pattern = (spec if spec is not None else active_spec()).landing_regex
    if path is not None and pattern.fullmatch(name) and path.is_file():
        data = path.read_bytes()
        digest, size = hashlib.sha256(data).hexdigest(), len(data)
    return Quarantine.validate(
        pd.DataFrame(
            {
                "refused_at": [pd.Timestamp.now(tz="UTC").tz_localize(None)],
                "partition_date": [pd.Timestamp(day)],
                "source_file": [name],
                "sha256": [digest],
                "size_bytes": [size],
                "reason": [str(error)],
                "run_id": [run_id],
            }
        )
    )
