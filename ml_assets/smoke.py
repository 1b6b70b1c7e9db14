"""Load a registered model in a fresh process and score raw rows: the gate's smoke test.

Run as ``python -m ml_assets.smoke --tracking-uri URI --model-uri models:/<name>_model/3
--rows rows.parquet [--model-name <name>_model]``. Prints one JSON line; exit 0 only when
every probability is finite and within [0, 1]. A fresh interpreter proves the model loads
from the registry alone, not from objects still alive in the training process.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--rows", required=True, help="Parquet file of landing-schema rows")
    parser.add_argument(
        "--model-name", default=None, help="registered model (default: the active spec's)"
    )
    args = parser.parse_args(argv)
    model_uri = args.model_uri
    if args.model_name:
        model_name = args.model_name
    else:
        from ml_assets.registry import default_model_name

        model_name = default_model_name()
    # Only the configured registry's model: never a path, a run or another model.
    if not model_uri.startswith(f"models:/{model_name}/") and not model_uri.startswith(
        f"models:/{model_name}@"
    ):
        print(
            json.dumps(
                {
                    "ok": False,
                    "error": f"refusing {model_uri!r}: only "
                    f"models:/{model_name}/<version> or @<alias> from the "
                    "registry at --tracking-uri may be loaded",
                }
            )
        )
        return 2
    started = time.perf_counter()
    # A short process that loads one model and scores a few rows: the cyclic collector would
    # only walk the libraries as they load, again and again (about a fifth of their import
    # time, measured here). Reference counting still frees what is dropped.
    gc.disable()
    # skops (the models' format) looks up scipy's ufuncs in every loaded module when it is
    # first imported: 0.2 s on its own, 1.0-1.4 s once MLflow and pandas are loaded.
    import skops.io  # noqa: F401

    # isort: split
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd

    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_registry_uri(args.tracking_uri)
    rows = pd.read_parquet(args.rows)
    try:
        # suppress_warnings skips MLflow's comparison of the model's pip requirements with the
        # installed packages (0.7 s of scanning every installed distribution): the challenger
        # was logged from this same environment moments ago, and the comparison only warns.
        model = mlflow.pyfunc.load_model(model_uri, suppress_warnings=True)
        output = np.asarray(model.predict(rows))
    except Exception as exc:  # the whole point is to report any failure as a verdict
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000]}))
        return 1
    proba = output[:, 1] if output.ndim == 2 else output
    ok = bool(
        len(proba) == len(rows)
        and np.all(np.isfinite(proba))
        and np.all((proba >= 0) & (proba <= 1))
    )
    print(
        json.dumps(
            {
                "ok": ok,
                "rows": len(rows),
                "min": float(np.min(proba)),
                "max": float(np.max(proba)),
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
