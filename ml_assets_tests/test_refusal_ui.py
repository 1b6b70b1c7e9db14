"""What a user reads about a refused landing file where they look for it: the instance's event
log holds the reason on the partition, and the asset's Events tab in the UI opens on it (the
real webserver, read in Debian's chromium), beside the partition panel's "run failed"."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_assets_tests import dagster_processes as procs
from ml_assets_tests.conftest import day, write_days
from ml_assets_tests.test_dg import _env, break_first_row, dg
from ml_assets_tests.test_ui import _browser, _open

pytestmark = [pytest.mark.slow, pytest.mark.ui]

RAW = ["raw", "customer_snapshots"]


def _launch_a_refused_day(project: Path, tmp_path: Path) -> dict:
    """A project whose second day's file breaks a landing rule; both days launched with dg."""
    write_days(project / "landing", 2, rows=60)
    bad = project / "landing" / f"customers_{day(1).isoformat()}.csv"
    break_first_row(bad, "monthly_charges", "-5.0")
    env = _env(tmp_path)
    good = dg("launch", "--assets", "/".join(RAW), "--partition", day(0).isoformat(), env=env)
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
    failed = dg("launch", "--assets", "/".join(RAW), "--partition", day(1).isoformat(), env=env)
    assert failed.returncode != 0
    return {"env": env, "home": Path(env["DAGSTER_HOME"]), "bad": bad}


def _assert_recorded_on_the_partition(refused: dict) -> None:
    from dagster import AssetKey, AssetRecordsFilter, DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(refused["home"])))
    try:

        def observations(partition: str):
            return instance.fetch_observations(
                AssetRecordsFilter(asset_key=AssetKey(RAW), asset_partitions=[partition]),
                limit=10,
            ).records

        [record] = observations(day(1).isoformat())
        seen = record.asset_observation
        assert seen.partition == day(1).isoformat()
        reason = f"{refused['bad'].name}: column monthly_charges breaks rule"
        assert reason in seen.description
        assert reason in seen.metadata["reason"].value
        assert seen.metadata["landing_file"].value == refused["bad"].name
        # The observation belongs to the failed run, and the good day has none.
        run = instance.get_run_by_id(record.event_log_entry.run_id)
        assert run is not None and run.status.value == "FAILURE"
        assert observations(day(0).isoformat()) == []
        assert instance.get_materialized_partitions(AssetKey(RAW)) == {day(0).isoformat()}
    finally:
        instance.dispose()


def test_refusal_reason_on_the_partition_and_in_the_ui(project, tmp_path):
    refused = _launch_a_refused_day(project, tmp_path)
    _assert_recorded_on_the_partition(refused)

    from playwright.sync_api import expect, sync_playwright

    port = procs.free_port()
    webserver = procs.start_webserver(refused["home"], procs.process_env(refused["home"]), port)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = _browser(p)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                url = f"{base}/assets/{'/'.join(RAW)}?view=partitions&partition={day(1)}"
                _open(page, url)
                reason = "column monthly_charges breaks rule"
                # The partition's panel names the failed run; the failed run logged an
                # observation of the partition, which the asset's Events tab opens on, with
                # the reason as its description.
                expect(page.get_by_text("did not materialize this asset")).to_be_visible(
                    timeout=120_000
                )
                _open(page, f"{base}/assets/{'/'.join(RAW)}?view=events&partition={day(1)}")
                expect(
                    page.get_by_text(f"Landing file refused: {refused['bad'].name}")
                ).to_be_visible(timeout=120_000)
                expect(page.get_by_text(reason).first).to_be_visible()
                page.screenshot(path=tmp_path / "refused_partition.png", full_page=True)
            finally:
                browser.close()
    finally:
        procs.stop(webserver)
    assert (tmp_path / "refused_partition.png").stat().st_size > 10_000
