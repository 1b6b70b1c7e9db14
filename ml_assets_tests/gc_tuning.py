"""The cyclic garbage collector in the test processes: off while the test modules are imported,
then everything imported so far frozen (out of its reach) before the first test runs.

Without this, the collector's full collections walk every object of dagster, MLflow, pandas
and scikit-learn again and again: in ``make test-fast`` it took 8.0 of 47 CPU-seconds of each
worker. The frozen objects are the libraries and the test modules, which live as long as the
process anyway; what a test creates is collected as usual. Set ``ML_ASSETS_TEST_GC=default``
to leave the collector alone.
"""

from __future__ import annotations

import gc
import os
import sys

import pytest

ENV = "ML_ASSETS_TEST_GC"
# Tests import more (MLflow's stores, scikit-learn's estimators, dagster's execution) as they
# go; after a test that loaded this many new modules, what is alive is collected once and frozen.
_NEW_MODULES = 200
_frozen_at = [0]


def _tuned() -> bool:
    return os.environ.get(ENV, "") != "default"


def _collects(config) -> bool:
    """pytest-xdist's controller collects nothing (its workers do); a worker, or pytest
    running the tests itself, does."""
    return hasattr(config, "workerinput") or not config.pluginmanager.has_plugin("dsession")


def pytest_configure(config) -> None:
    if _tuned():
        gc.disable()


def pytest_sessionstart(session) -> None:
    if _tuned() and not _collects(session.config):
        gc.enable()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session) -> None:
    if _tuned():
        gc.freeze()
        _frozen_at[0] = len(sys.modules)
        gc.enable()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item) -> None:
    if _tuned() and len(sys.modules) - _frozen_at[0] >= _NEW_MODULES:
        gc.collect()  # the test's garbage goes now, not into the frozen set
        gc.freeze()
        _frozen_at[0] = len(sys.modules)


def pytest_sessionfinish(session) -> None:
    gc.enable()  # whatever happened in between (a collection error), never left off
