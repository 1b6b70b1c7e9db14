"""`ml-assets check`: a spec's own problems plus those only its landing data can show.

The spec's problems (unknown keys, features that are not columns, a derive function that
cannot be imported, ...) come from :func:`ml_assets.dataset.spec.spec_problems`. With landing
files present under the data folder, this adds what ingest would meet: every landing file
read by the pipeline's own parser (a file that breaks the spec: one line naming the file,
column, rule and count), a target value that never occurs, and the feature table built from
a few real rows with and without the target (a derive function that raises, returns the
wrong shape or misses a declared column).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

SAMPLE_ROWS = 5
MAX_FILE_LINES = 10
PROGRESS_SECONDS = 2.0


def _load_all(
    spec, landing_dir: Path, say: Callable[[str], None]
) -> tuple[list[tuple[str, pd.DataFrame]], list[str], int]:
    """Every landing file through the pipeline's parser: ((name, rows) pairs, problems, count)."""
    from ml_assets.landing import LandingFileError, list_landing_files, load_landing_file

    files = list_landing_files(landing_dir, spec)
    loaded: list[tuple[str, pd.DataFrame]] = []
    broken: list[str] = []
    last = time.monotonic()
    for number, landing_file in enumerate(files, start=1):
        try:
            loaded.append((landing_file.path.name, load_landing_file(landing_file, spec)))
        except LandingFileError as exc:
            broken.append(f"{landing_dir}/{exc}")
        if time.monotonic() - last >= PROGRESS_SECONDS and number < len(files):
            say(f"... read {number}/{len(files)} landing files")
            last = time.monotonic()
    problems = broken[:MAX_FILE_LINES]
    if len(broken) > MAX_FILE_LINES:
        problems.append(
            f"{landing_dir}: {len(broken) - MAX_FILE_LINES} more of the {len(files)} landing "
            "files break the spec (the first are above); fix the spec or the files and check "
            "again."
        )
    return loaded, problems, len(files)


def _target_problems(spec, frames: list[pd.DataFrame], files: int, landing_dir: Path):
    # The landing parser has already turned the labels into events (1, 0, missing).
    known = pd.concat([f[spec.target.column] for f in frames], ignore_index=True).dropna()
    declared = spec.column(spec.target.column).values or ()
    others = [str(v) for v in declared if str(v) != str(spec.target.positive)]
    other = "the other value" + (f" {others[0]!r}" if len(others) == 1 else "")
    problems = []
    for event, what in ((1, f"the positive value {spec.target.positive!r}"), (0, other)):
        if not (known == event).any():
            problems.append(
                f"{spec.path}: target.positive: {what} never occurs in the {len(known)} "
                f"labelled rows of the {files} landing files under {landing_dir}; a model "
                "needs both values. Set target.positive to the event's value as written in the "
                "files, or land rows with both outcomes."
            )
    return problems


def _feature_problems(spec, name: str, rows: pd.DataFrame) -> list[str]:
    """Build the feature table of a few real rows, with and without the target (as served)."""
    from ml_assets.features import FeatureError, build_features

    sample = rows.head(SAMPLE_ROWS)
    where = f"on the first {len(sample)} rows of {name}"
    for frame in (sample, sample.drop(columns=[spec.target.column])):
        try:
            build_features(frame, spec)
        except FeatureError as exc:
            return [f"{exc} (checked {where})"]
        except Exception as exc:  # a derived feature missing, a type that does not convert
            return [
                f"{spec.path}: features: building the feature table {where} failed with "
                f"{type(exc).__name__}: {exc}; make features.derive return every derived "
                "feature, with the declared types."
            ]
    return []


def _name_problems(spec) -> list[str]:
    """Column names the warehouse refuses (found here, not at the first ingest)."""
    from ml_assets.dataset.infer import column_key
    from ml_assets.warehouse import WarehouseError, check_identifier

    problems = []
    for where, columns in (("columns", spec.columns), ("derived", spec.derived)):
        for col in columns:
            try:
                check_identifier(col.name)
                ok = column_key(col.name) == col.name
            except WarehouseError:
                ok = False
            if not ok:
                problems.append(
                    f"{spec.path}: {where}.{col.name}: the warehouse takes lower-case letters, "
                    "digits and _ and no SQL reserved word as a column name; rename it "
                    f"{column_key(col.name)!r} here and in the landing files (`ml-assets land` "
                    "renames a table's columns so)."
                )
    return problems


def check_spec(
    path: str | Path, landing_dir: Path, say: Callable[[str], None] = print
) -> tuple[list[str], list[str]]:
    """(problems, notes) for `ml-assets check`: one line per problem."""
    from ml_assets.dataset.spec import SpecError, load_spec, spec_problems

    problems = spec_problems(path)
    if problems:
        return problems, []
    try:
        spec = load_spec(path)
    except SpecError as exc:
        return exc.problems, []
    naming = _name_problems(spec)
    if naming:
        return naming, []
    loaded, problems, count = _load_all(spec, landing_dir, say)
    if count == 0:
        return [], [
            f"no landing files matching {spec.landing_pattern} under {landing_dir}; the checks "
            "on data (files against the spec, target values, derive function) were skipped. "
            "Run `ml-assets land` first to include them."
        ]
    if loaded:
        problems += _target_problems(spec, [f for _, f in loaded], count, landing_dir)
        problems += _feature_problems(spec, *loaded[0])
    return problems, [f"read {count} landing files under {landing_dir}"]
