"""`ml-assets check`: a spec's own problems plus those only its landing data can show.

The spec's problems (unknown keys, features that are not columns, a derive function that
cannot be imported, ...) come from :func:`ml_assets.dataset.spec.spec_problems`. With landing
files present under the data folder, this adds: landing files whose header is not the spec's
columns, a target value that never occurs (or a third value), and a derive function that
raises, returns the wrong shape or misses a declared column on a sample of real rows.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SAMPLE_ROWS = 5


def landing_files(spec, landing_dir: Path) -> list[Path]:
    """The spec's landing files in ``landing_dir`` (CSV wins when a day has both)."""
    if not landing_dir.is_dir():
        return []
    by_day: dict[str, Path] = {}
    for path in sorted(landing_dir.iterdir()):
        match = spec.landing_regex.fullmatch(path.name)
        if match and path.is_file() and (match.group(1) not in by_day or match.group(2) == "csv"):
            by_day[match.group(1)] = path
    return [by_day[d] for d in sorted(by_day)]


def _read(path: Path, spec, columns: list[str] | None = None, rows: int | None = None):
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path, columns=columns)
        return frame.head(rows) if rows else frame
    return pd.read_csv(
        path,
        usecols=columns,
        nrows=rows,
        dtype=str,
        keep_default_na=False,
        na_values=list(spec.null_values) or [""],
    )


def _typed(frame: pd.DataFrame, spec) -> pd.DataFrame:
    """Landing text typed as the spec says, as the derive function receives it."""
    out = frame.copy()
    for col in spec.columns:
        if col.name not in out:
            continue
        series = out[col.name]
        if col.type == "date":
            out[col.name] = pd.to_datetime(series, errors="coerce")
        elif col.type == "int":
            out[col.name] = pd.to_numeric(series, errors="coerce").astype("Int64")
        elif col.type == "float":
            out[col.name] = pd.to_numeric(series, errors="coerce").astype("float64")
        elif col.type == "bool":
            text = series.astype("string").str.strip().str.lower()
            out[col.name] = text.isin(["true", "t", "1", "yes", "y"]).astype(bool)
        else:
            out[col.name] = series.astype("string")
    return out


def _header_problems(spec, files: list[Path]) -> list[str]:
    problems = []
    expected = spec.landing_columns
    wrong = []
    for path in files:
        got = list(_read(path, spec, rows=0).columns)
        if got != expected:
            wrong.append((path, got))
    if wrong:
        path, got = wrong[0]
        missing = [c for c in expected if c not in got]
        extra = [c for c in got if c not in expected]
        detail = (
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(extra)}" if extra else "",
        )
        what = "; ".join(d for d in detail if d) or "columns out of order"
        problems.append(
            f"{spec.path}: columns: {len(wrong)} of {len(files)} landing files do not have the "
            f"spec's columns in order (first: {path.name}: {what}); land the files again with "
            "`ml-assets land`, or change the spec's columns."
        )
    return problems


def _target_problems(spec, files: list[Path], landing_dir: Path) -> list[str]:
    from ml_assets.dataset.spec import TargetValueError, target_to_event

    target = spec.target.column
    parts = []
    for path in files:
        try:
            parts.append(_read(path, spec, columns=[target])[target])
        except (ValueError, KeyError):
            continue  # reported by the header check
    if not parts:
        return []
    labels = pd.concat(parts, ignore_index=True)
    try:
        events = target_to_event(labels, spec)
    except TargetValueError as exc:
        return [
            f"{spec.path}: target: {exc} (in the landing files under {landing_dir}); a third "
            "value is refused at ingest."
        ]
    known = events.dropna()
    problems = []
    for event, what in ((1, f"the positive value {spec.target.positive!r}"), (0, "the other")):
        if not (known == event).any():
            problems.append(
                f"{spec.path}: target.positive: {what} never occurs in the {len(known)} "
                f"labelled rows of the {len(files)} landing files under {landing_dir}; a model "
                "needs both values. Set target.positive to the event's value as written in the "
                "files, or land rows with both outcomes."
            )
    return problems


def _derive_problems(spec, files: list[Path]) -> list[str]:
    if not spec.derive or not files:
        return []
    function = spec.derive_function()
    sample = _typed(_read(files[0], spec, rows=SAMPLE_ROWS), spec)
    where = f"on the first {len(sample)} rows of {files[0].name}"
    try:
        derived = function(sample.drop(columns=[spec.target.column], errors="ignore"))
    except Exception as exc:  # whatever the user's function raises is reported
        return [
            f"{spec.path}: features.derive: {spec.derive} raised {type(exc).__name__}: {exc} "
            f"{where}; fix the function (it receives the landing columns, typed, without the "
            "target)."
        ]
    if not isinstance(derived, pd.DataFrame) or len(derived) != len(sample):
        return [
            f"{spec.path}: features.derive: {spec.derive} returned {type(derived).__name__} "
            f"{where}, not a DataFrame with one row per input row; make it return one."
        ]
    needed = [c.name for c in spec.derived] + [
        f for f in spec.model_features if f not in spec.landing_columns
    ]
    absent = sorted({c for c in needed if c not in derived.columns})
    if absent:
        return [
            f"{spec.path}: features.derive: {spec.derive} did not return the column(s) "
            f"{', '.join(absent)} {where} (declared under derived: or used as features); make "
            "it return them or remove them from the spec."
        ]
    return []


def check_spec(path: str | Path, landing_dir: Path) -> tuple[list[str], list[str]]:
    """(problems, notes) for `ml-assets check`: one line per problem."""
    from ml_assets.dataset.spec import SpecError, load_spec, spec_problems

    problems = spec_problems(path)
    if problems:
        return problems, []
    try:
        spec = load_spec(path)
    except SpecError as exc:
        return exc.problems, []
    files = landing_files(spec, landing_dir)
    if not files:
        return [], [
            f"no landing files matching {spec.landing_pattern} under {landing_dir}; the checks "
            "on data (target values, derive function) were skipped. Run `ml-assets land` first "
            "to include them."
        ]
    problems = _header_problems(spec, files)
    problems += _target_problems(spec, files, landing_dir)
    problems += _derive_problems(spec, files)
    notes = [f"read {len(files)} landing files under {landing_dir}"]
    return problems, notes
