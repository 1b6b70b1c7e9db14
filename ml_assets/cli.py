"""The `ml-assets` command: `init` a dataset spec from a table, `land` a table as daily
files, `check` a spec, `generate` landing data, run the `demo` lifecycle, trace a
prediction's `lineage`, `rollback` the champion."""

from __future__ import annotations

import sys

GENERATOR_MODULE = "ml_assets_examples.churn.generator"
COMMANDS = {
    "init": "infer a dataset spec from a CSV or Parquet table, for you to review",
    "land": "write a table as daily landing files in a spec's pattern (never overwrites)",
    "check": "validate a dataset spec, and its landing files when there are some",
    "generate": "write the churn example's synthetic daily landing files and their ground truth",
    "demo": "run the whole lifecycle on the landing folder with the Dagster daemon",
    "rollback": "make the previous champion the champion again (logged in registry.promotion_log)",
    "lineage": "where one prediction came from: model, MLflow run, training data, code, "
    "evaluation, gate and drift event",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:<10} {text}" for name, text in COMMANDS.items()]
        print(
            "usage: ml-assets COMMAND [options]\n\ncommands:\n"
            + "\n".join(lines)
            + "\n\n`ml-assets COMMAND --help` describes a command's options."
        )
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    if command in ("init", "land", "check"):
        from ml_assets.dataset import tools

        return getattr(tools, f"{command}_main")(rest)
    if command == "generate":
        import importlib

        # The churn example's generator, found by name: the generic package never imports
        # the examples (their folder ships beside it).
        return importlib.import_module(GENERATOR_MODULE).cli_main(rest)
    if command == "rollback":
        return _rollback(rest)
    if command == "lineage":
        return _lineage(rest)
    from ml_assets.demo import main as demo_main

    return demo_main(rest)


def _rollback(argv: list[str]) -> int:
    import argparse

    from ml_assets import settings
    from ml_assets.promotion import rollback
    from ml_assets.registry import RegistryError

    parser = argparse.ArgumentParser(prog="ml-assets rollback", description=COMMANDS["rollback"])
    parser.parse_args(argv)
    try:
        old, new = rollback(settings.mlflow_tracking_uri(), settings.warehouse())
    except RegistryError as exc:
        print(f"ml-assets rollback: {exc}", file=sys.stderr)
        return 1
    print(
        f"champion is now version {new} (was {old}); version {old} keeps the alias "
        "previous_champion, so rolling back again undoes this."
    )
    return 0


def _lineage(argv: list[str]) -> int:
    import argparse

    from ml_assets import settings
    from ml_assets.lineage import LineageError, format_chain, prediction_lineage

    parser = argparse.ArgumentParser(prog="ml-assets lineage", description=COMMANDS["lineage"])
    parser.add_argument(
        "--id",
        "--customer",
        dest="entity_id",
        required=True,
        help="the prediction's id (the dataset spec's id column)",
    )
    parser.add_argument(
        "--date", required=True, type=_iso_date, help="snapshot day of the prediction, YYYY-MM-DD"
    )
    parser.add_argument("--json", action="store_true", help="print the chain as JSON")
    parser.add_argument(
        "--warehouse",
        default=None,
        help="DuckDB file (default: ML_ASSETS_DUCKDB_PATH, else data/warehouse.duckdb)",
    )
    args = parser.parse_args(argv)
    database = args.warehouse or settings.warehouse()
    try:
        record = prediction_lineage(database, args.entity_id, args.date)
    except LineageError as exc:
        print(f"ml-assets lineage: {exc}", file=sys.stderr)
        return 1
    if args.json:
        import json

        print(json.dumps(record, default=str, indent=2))
    else:
        print(format_chain(record))
    return 0


def _iso_date(text: str):
    import argparse
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from exc


if __name__ == "__main__":
    sys.exit(main())
