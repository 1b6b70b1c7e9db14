"""The `ml-assets` command: `generate` landing data, run the `demo` lifecycle."""

from __future__ import annotations

import sys

COMMANDS = {
    "generate": "write synthetic daily landing files and their ground truth",
    "demo": "run the whole lifecycle on the landing folder with the Dagster daemon",
    "rollback": "make the previous champion the champion again (logged in registry.promotion_log)",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:<10} {text}" for name, text in COMMANDS.items()]
        print("usage: ml-assets COMMAND [options]\n\ncommands:\n" + "\n".join(lines)
              + "\n\n`ml-assets COMMAND --help` describes a command's options.")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    if command == "generate":
        from ml_assets.generator import cli_main

        return cli_main(rest)
    if command == "rollback":
        return _rollback(rest)
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
        old, new = rollback(settings.mlflow_tracking_uri(), settings.duckdb_path())
    except RegistryError as exc:
        print(f"ml-assets rollback: {exc}", file=sys.stderr)
        return 1
    print(f"champion is now version {new} (was {old}); version {old} keeps the alias "
          "previous_champion, so rolling back again undoes this.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
