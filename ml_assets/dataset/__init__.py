"""The dataset spec and what derives from it (names, pandera models)."""

from ml_assets.dataset.names import DatasetNames, dataset_names
from ml_assets.dataset.spec import (
    ColumnSpec,
    DatasetSpec,
    SegmentSpec,
    SpecError,
    TargetSpec,
    TargetValueError,
    active_spec,
    load_spec,
    spec_problems,
    target_to_event,
)

__all__ = [
    "ColumnSpec",
    "DatasetNames",
    "DatasetSpec",
    "SegmentSpec",
    "SpecError",
    "TargetSpec",
    "TargetValueError",
    "active_spec",
    "dataset_names",
    "load_spec",
    "spec_problems",
    "target_to_event",
]
