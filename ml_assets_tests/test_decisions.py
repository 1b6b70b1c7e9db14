"""The sensors' decisions as plain functions (ml_assets.decisions), without Dagster.

Which landing files are new (cursor per file, settling, refused days), which drift events
start a retrain (cooldown, severity, budget, days the champion was trained on), and what
configuration the environment gives them (ml_assets.settings).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from ml_assets import settings
from ml_assets.decisions import (
    RetrainPolicy,
    drift_event,
    merge_event_batches,
    plan_drift_retrains,
    plan_landing_runs,
    read_landing_cursor,
    retrain_run_config,
)
from ml_assets.landing import list_landing_files
from ml_assets_tests.conftest import START, day, write_days


@pytest.mark.slow  # a fresh interpreter in a subprocess
def test_the_decisions_and_settings_import_without_dagster():
    """A fresh interpreter imports settings first (the former settings <-> sensors cycle) and
    the decisions module, and dagster stays unloaded."""
    code = (
        "import sys; import ml_assets.settings as s; import ml_assets.decisions; "
        "s.retrain_policy(); s.performance_rules(); "
        "assert 'dagster' not in sys.modules, 'dagster was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_drift_on_days_the_champion_was_trained_on_never_retrains():
    # Drift re-checked over a backfilled history against a champion trained up to 2025-03-31.
    policy = RetrainPolicy(cooldown_days=7, budget=4, budget_window_days=30)
    events = [
        {
            "storage_id": i,
            "partition": f"2025-03-{25 + i:02d}",
            "dataset_drift": True,
            "drifted_features": ["x"],
            "reference_window_end": "2025-03-31",
        }
        for i in range(7)
    ]
    events.append(
        {
            "storage_id": 9,
            "partition": "2025-04-01",
            "dataset_drift": True,
            "drifted_features": ["x"],
            "reference_window_end": "2025-03-31",
        }
    )
    plan = plan_drift_retrains(events, {}, policy)
    assert [r["partition"] for r in plan.requests] == ["2025-04-01"]
    assert sum("trained on or before" in n for n in plan.notes) == 7
    # Without a recorded window end (older profiles) the day is judged as before.
    old = [{k: v for k, v in events[0].items() if k != "reference_window_end"}]
    assert len(plan_drift_retrains(old, {}, policy).requests) == 1


def test_retrain_budget_caps_requests():
    policy = RetrainPolicy(cooldown_days=0, budget=2, budget_window_days=30)
    events = [
        {
            "storage_id": i,
            "partition": f"2025-01-{10 + i:02d}",
            "dataset_drift": True,
            "drifted_features": ["x"],
        }
        for i in range(5)
    ]
    plan = plan_drift_retrains(events, {}, policy)
    assert [r["partition"] for r in plan.requests] == ["2025-01-10", "2025-01-11"]
    assert sum("budget" in n for n in plan.notes) == 3
    # The cursor carries the history, so a later tick still respects the budget.
    later = [
        {
            "storage_id": 9,
            "partition": "2025-01-20",
            "dataset_drift": True,
            "drifted_features": ["x"],
        }
    ]
    assert plan_drift_retrains(later, plan.cursor, policy).requests == []
    after_window = [
        {
            "storage_id": 10,
            "partition": "2025-02-15",
            "dataset_drift": True,
            "drifted_features": ["x"],
        }
    ]
    assert len(plan_drift_retrains(after_window, plan.cursor, policy).requests) == 1


def test_drift_on_a_day_before_the_last_retrain_never_retrains():
    # Backfill chunks finish out of order: older drifted days arrive after a retrain for a
    # newer day. Even more severe, they do not retrain again (and do not use the budget).
    policy = RetrainPolicy(cooldown_days=7, budget=4, budget_window_days=30)
    first = [
        {
            "storage_id": 1,
            "partition": "2025-02-10",
            "dataset_drift": True,
            "drifted_features": ["x"],
        }
    ]
    plan = plan_drift_retrains(first, {}, policy)
    assert len(plan.requests) == 1
    older = [
        {
            "storage_id": 2 + i,
            "partition": f"2025-01-{10 + i:02d}",
            "dataset_drift": True,
            "drifted_features": ["x", "y", "z"],
        }
        for i in range(3)
    ]
    later = plan_drift_retrains(older, plan.cursor, policy)
    assert later.requests == [] and sum("newer data" in n for n in later.notes) == 3
    # A newer drifted day past the cooldown still retrains.
    newer = [
        {
            "storage_id": 9,
            "partition": "2025-02-20",
            "dataset_drift": True,
            "drifted_features": ["x"],
        }
    ]
    assert len(plan_drift_retrains(newer, later.cursor, policy).requests) == 1


def test_landing_plan_waits_for_settling_files_and_refuses_bad_days(project):
    landing = project / "landing"
    paths = write_days(landing, 2, rows=50)
    now = time.time()
    os.utime(paths[1], (now, now))  # still being written
    future = landing / "customers_2999-01-01.csv"
    future.write_text(paths[0].read_text())
    old = now - 100
    os.utime(future, (old, old))
    (landing / "notes.txt").write_text("not a landing file")
    plan = plan_landing_runs(
        list_landing_files(landing), None, set(), now, START, today=START.replace(year=2026)
    )
    assert [key for key, _ in plan.requests] == [day(0).isoformat()]
    assert any("settling" in n for n in plan.notes)
    assert any("2999-01-01" in n and "future" in n for n in plan.notes)
    # The settling file is not recorded, so a later tick, once it is still, requests it.
    assert paths[1].name not in plan.cursor["files"]
    later = plan_landing_runs(
        list_landing_files(landing),
        plan.cursor,
        set(),
        now + 10,
        START,
        today=START.replace(year=2026),
    )
    assert [key for key, _ in later.requests] == [day(1).isoformat()]


def test_a_file_created_while_a_tick_reads_the_folder_is_not_lost(project):
    """The race that a single "newest time handled" cursor lost (seen in CI): a tick lists
    the folder, a new day lands and an old day is touched before the tick reads the times
    of what it listed. The new day's file is older than the touched one, yet still new."""
    landing = project / "landing"
    paths = write_days(landing, 2, rows=50)
    first = plan_landing_runs(
        list_landing_files(landing), None, set(), time.time(), START, today=START.replace(year=2026)
    )
    listed = list_landing_files(landing)
    (new_day,) = write_days(landing, 1, rows=50, first=2)
    stamp = time.time() - 10
    os.utime(new_day, (stamp - 1, stamp - 1))
    os.utime(paths[0], (stamp, stamp))
    racing = plan_landing_runs(
        listed, first.cursor, set(), time.time(), START, today=START.replace(year=2026)
    )
    assert [key for key, _ in racing.requests] == [day(0).isoformat()]
    after = plan_landing_runs(
        list_landing_files(landing),
        racing.cursor,
        set(),
        time.time(),
        START,
        today=START.replace(year=2026),
    )
    assert [key for key, _ in after.requests] == [day(2).isoformat()]


def test_a_file_moved_in_with_an_old_time_is_requested_and_a_removed_name_forgotten(
    project, tmp_path
):
    landing = project / "landing"
    write_days(landing, 2, rows=50)
    plan = plan_landing_runs(
        list_landing_files(landing), None, set(), time.time(), START, today=START.replace(year=2026)
    )
    assert len(plan.requests) == 2
    # `mv` keeps the source's modification time: a week old, older than every handled file.
    (outside,) = write_days(tmp_path / "elsewhere", 1, rows=50, first=5)
    week_ago = time.time() - 7 * 86400
    os.utime(outside, (week_ago, week_ago))
    moved = landing / outside.name
    outside.rename(moved)
    plan = plan_landing_runs(
        list_landing_files(landing),
        plan.cursor,
        set(),
        time.time(),
        START,
        today=START.replace(year=2026),
    )
    assert [key for key, _ in plan.requests] == [day(5).isoformat()]
    assert moved.name in plan.cursor["files"]
    moved.unlink()
    plan = plan_landing_runs(
        list_landing_files(landing),
        plan.cursor,
        set(),
        time.time(),
        START,
        today=START.replace(year=2026),
    )
    assert plan.requests == [] and moved.name not in plan.cursor["files"]


def test_a_cursor_of_the_older_single_time_form_is_read_and_replaced(project):
    landing = project / "landing"
    paths = write_days(landing, 3, rows=50)
    cut = paths[0].stat().st_mtime + 1  # day 0 handled under the old cursor
    newer = cut + 5
    for path in paths[1:]:
        os.utime(path, (newer, newer))
    cursor = read_landing_cursor(str(cut))
    plan = plan_landing_runs(
        list_landing_files(landing),
        cursor,
        set(),
        newer + 60,
        START,
        today=START.replace(year=2026),
    )
    assert sorted(key for key, _ in plan.requests) == [day(1).isoformat(), day(2).isoformat()]
    assert set(plan.cursor) == {"files"} and len(plan.cursor["files"]) == 3
    assert read_landing_cursor(json.dumps(plan.cursor)) == plan.cursor
    assert read_landing_cursor(None) is None


def test_drift_events_from_metadata_and_bounded_batches_merge_in_log_order():
    calm = drift_event("input", 3, "2025-01-01", {"dataset_drift": False})
    assert calm["dataset_drift"] is False and calm["drifted_features"] == []
    drifted = drift_event(
        "input",
        5,
        "2025-01-02",
        {"dataset_drift": True, "drifted_features": ["a", "b"], "reference_window_end": "x"},
    )
    assert drifted["drifted_features"] == ["a", "b"] and drifted["reference_window_end"] == "x"
    performance = drift_event("performance", 4, "2025-01-02", {"performance_drift": True})
    assert performance["drifted_features"] == ["realised_auc"] and performance["dataset_drift"]
    with pytest.raises(ValueError, match="neither"):
        drift_event("label", 1, None, {})
    # Inputs have more waiting after id 5: a performance event after it is held back for
    # the next tick, so a cursor at the newest returned id skips nothing.
    late = drift_event("performance", 9, "2025-01-03", {"performance_drift": False})
    merged = merge_event_batches([([calm, drifted], True), ([performance, late], False)])
    assert [e["storage_id"] for e in merged] == [3, 4, 5]
    everything = merge_event_batches([([calm, drifted], False), ([performance, late], False)])
    assert [e["storage_id"] for e in everything] == [3, 4, 5, 9]


def test_retrain_config_follows_the_kind_of_drift_and_names_the_ops():
    ops = {"training_set_op": "flights__x", "model_op": "flights__m"}
    config = retrain_run_config({"kind": "input", "partition": "2025-01-11"}, **ops)
    assert config == {"ops": {"flights__m": {"config": {"reference_since": "2025-01-11"}}}}
    config = retrain_run_config({"kind": "performance", "partition": "2025-01-11"}, **ops)
    assert config == {"ops": {"flights__x": {"config": {"since": "2025-01-11"}}}}


def test_configuration_comes_from_the_environment_with_clear_errors(monkeypatch):
    monkeypatch.setenv("ML_ASSETS_RETRAIN_COOLDOWN_DAYS", "3")
    monkeypatch.setenv("ML_ASSETS_PERFORMANCE_MARGIN", "0.05")
    monkeypatch.setenv("ML_ASSETS_PERFORMANCE_MIN_ROWS", "250")
    assert settings.retrain_policy().cooldown_days == 3
    rules = settings.performance_rules()
    assert (rules.margin, rules.min_rows) == (0.05, 250)
    monkeypatch.setenv("ML_ASSETS_PERFORMANCE_ALPHA", "often")
    with pytest.raises(ValueError, match="ML_ASSETS_PERFORMANCE_ALPHA='often' is not a number"):
        settings.performance_rules()


def test_a_relative_data_dir_resolves_against_the_project_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ML_ASSETS_DATA_DIR", "some/where")
    assert settings.data_dir() == settings.PROJECT_ROOT / "some" / "where"
    assert settings.landing_dir() == settings.PROJECT_ROOT / "some" / "where" / "landing"
