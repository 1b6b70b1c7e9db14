"""ml_assets_tests/gc_tuning.py as the test processes see it."""

from __future__ import annotations

import gc
import os

import pytest


@pytest.mark.skipif(os.environ.get("ML_ASSETS_TEST_GC") == "default", reason="left alone")
def test_collector_is_on_and_the_loaded_libraries_are_frozen():
    # This test runs after collection: the collector is back on, and what the test modules
    # imported (dagster, pandas, ...) is out of its reach.
    assert gc.isenabled()
    assert gc.get_freeze_count() > 10_000
