"""The default code location: the one Definitions object, built from the active dataset spec
(``ML_ASSETS_DATASET``, default the churn example). See :mod:`ml_assets.locations`.
"""

from __future__ import annotations

from ml_assets.dataset import active_spec
from ml_assets.locations import build_definitions, build_resources

defs = build_definitions(active_spec())

# The parts of ``defs``, for tests and bench that materialize assets directly.
ALL_ASSETS = list(defs.assets or [])
ALL_CHECKS = list(defs.asset_checks or [])
ingest_job, retrain_job = defs.jobs or []

__all__ = ["ALL_ASSETS", "ALL_CHECKS", "build_definitions", "build_resources", "defs"]
