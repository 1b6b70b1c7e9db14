"""The argument handling of `ml-assets init`, `land` and `check`.

Exit codes: 0 done (for `check`: no problem), 1 `check` found problems, 2 a usage error or
an input that cannot be used (the message says which file, column or key, and what to do).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path


def _error(command: str, message: str) -> int:
    print(f"ml-assets {command}: {message}", file=sys.stderr)
    return 2


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from exc


def init_main(argv: list[str]) -> int:
    from ml_assets.dataset.infer import (
        TableError,
        infer_spec,
        read_table,
        render_spec,
        review_lines,
    )

    parser = argparse.ArgumentParser(
        prog="ml-assets init",
        description="Infer a dataset spec from a table (types, value sets, bounds, "
        "nullability, id and date columns, leaking and constant columns) and write it with "
        "comments for you to review.",
    )
    parser.add_argument("--from", dest="table", required=True, help="a .csv or .parquet table")
    parser.add_argument("--target", required=True, help="the column holding the outcome")
    parser.add_argument("--id", dest="id_column", help="the id column (default: guessed)")
    parser.add_argument("--date", dest="date_column", help="the date column (default: guessed)")
    parser.add_argument("--name", help="the dataset's name (default: from the file name)")
    parser.add_argument("--out", help="the spec file to write (default: ./<name>.spec.yaml)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    args = parser.parse_args(argv)
    if args.name is not None and not args.name.replace("_", "a").isalnum():
        return _error("init", f"--name {args.name!r}: use lower-case letters, digits and _.")
    try:
        frame = read_table(args.table)
        inferred = infer_spec(
            frame,
            args.table,
            args.target,
            id_column=args.id_column,
            date_column=args.date_column,
            name=args.name.lower() if args.name else None,
        )
    except TableError as exc:
        return _error("init", str(exc))
    out = Path(args.out) if args.out else Path.cwd() / f"{inferred.name}.spec.yaml"
    text = render_spec(inferred)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w" if args.force else "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        return _error(
            "init",
            f"{out} exists and is left as it is; give --force to replace it, or --out another "
            "file.",
        )
    except OSError as exc:
        return _error("init", f"cannot write {out} ({exc}); give --out a writable path.")
    for line in review_lines(inferred, out):
        print(line)
    return 0


def land_main(argv: list[str]) -> int:
    from ml_assets import settings
    from ml_assets.dataset.infer import TableError, read_table
    from ml_assets.dataset.land import (
        SPREADS,
        LandError,
        land_rows,
        prepare_landing_rows,
        summary_lines,
    )
    from ml_assets.dataset.spec import SpecError, load_spec

    parser = argparse.ArgumentParser(
        prog="ml-assets land",
        description="Write a table as daily landing files in the spec's landing_pattern under "
        "ML_ASSETS_DATA_DIR's landing folder: grouped by the spec's date column, or spread "
        "over --days days from --start when the table has no such column. Existing landing "
        "files are never overwritten (those days are skipped).",
    )
    parser.add_argument("--from", dest="table", required=True, help="a .csv or .parquet table")
    parser.add_argument("--spec", required=True, help="the dataset spec (YAML)")
    parser.add_argument("--days", type=int, help="spread over this many days (no date column)")
    parser.add_argument("--start", type=_iso_date, help="first day of the spread, YYYY-MM-DD")
    parser.add_argument(
        "--spread",
        choices=SPREADS,
        default="hash",
        help="hash: each row's day from a hash of its id (default); order: contiguous blocks "
        "in row order, for a table already in time order",
    )
    parser.add_argument(
        "--landing-dir",
        type=Path,
        default=None,
        help="where to write (default: <ML_ASSETS_DATA_DIR>/landing)",
    )
    args = parser.parse_args(argv)
    if (args.days is None) != (args.start is None):
        return _error("land", "give --days and --start together (or neither).")
    try:
        spec = load_spec(args.spec)
    except SpecError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return _error(
            "land",
            f"the spec {args.spec} has {len(exc.problems)} problem(s), listed above; "
            "fix them (`ml-assets check --spec FILE`) and land again.",
        )
    landing_dir = args.landing_dir or settings.landing_dir()
    try:
        frame = read_table(args.table)
        rows, notes = prepare_landing_rows(
            frame, spec, args.table, days=args.days, start=args.start, spread=args.spread
        )
    except (TableError, LandError) as exc:
        return _error("land", str(exc))
    for note in notes:
        print(f"note: {note}")
    print(f"landing {len(rows)} rows in {landing_dir} ...", flush=True)
    summary = land_rows(rows, spec, landing_dir, say=lambda line: print(line, flush=True))
    for line in summary_lines(summary, landing_dir):
        print(line)
    for line in _calendar_notes(summary, settings):
        print(f"note: {line}")
    print(f"next: ml-assets check --spec {args.spec} --landing-dir {landing_dir}")
    return 0


def _calendar_notes(summary, settings) -> list[str]:
    """Days the pipeline would refuse as partitions: before the start or after today."""
    notes = []
    if summary.first_day is None:
        return notes
    try:
        start = settings.partitions_start()
    except ValueError as exc:
        return [str(exc)]
    if summary.first_day < start:
        notes.append(
            f"the first day, {summary.first_day}, is before the first daily partition {start}; "
            f"set ML_ASSETS_PARTITIONS_START={summary.first_day} for `make run` and the UI."
        )
    from ml_assets.dataset.infer import DRIFT_MIN_ROWS

    rows = summary.rows_written + summary.rows_skipped
    if rows / summary.days < DRIFT_MIN_ROWS:
        notes.append(
            f"about {rows // summary.days} rows a day: the drift report decides only on days "
            f"with at least {DRIFT_MIN_ROWS} rows; fewer --days give fuller days."
        )
    if summary.last_day > dt.date.today():
        notes.append(
            f"the last day, {summary.last_day}, is after today; days in the future are refused "
            "as partitions until they arrive."
        )
    return notes


def check_main(argv: list[str]) -> int:
    from ml_assets import settings
    from ml_assets.dataset.check import check_spec

    parser = argparse.ArgumentParser(
        prog="ml-assets check",
        description="Validate a dataset spec: one line per problem (exit 1), nothing and exit "
        "0 when it is clean. With landing files under the data folder, also checks that both "
        "target values occur and that the derive function runs on a sample of rows.",
    )
    parser.add_argument("--spec", required=True, help="the dataset spec (YAML)")
    parser.add_argument(
        "--landing-dir",
        type=Path,
        default=None,
        help="landing files to check against (default: <ML_ASSETS_DATA_DIR>/landing)",
    )
    args = parser.parse_args(argv)
    landing_dir = args.landing_dir or settings.landing_dir()
    problems, notes = check_spec(
        args.spec, landing_dir, say=lambda line: print(line, file=sys.stderr, flush=True)
    )
    for line in problems:
        print(line)
    for line in notes:
        print(f"note: {line}", file=sys.stderr)
    if problems:
        print(
            f"{len(problems)} problem(s) in {args.spec}; fix them and run check again.",
            file=sys.stderr,
        )
        return 1
    print(f"{args.spec}: no problems found.")
    return 0
