"""A tiny code location for test_run_launcher: one job that records which process ran it."""

import gc
import json
import os
import time
from pathlib import Path

from dagster import Config, Definitions, in_process_executor, job, op


class RecordConfig(Config):
    path: str
    # After writing the record, keep running this long (a run to cancel).
    linger_s: float = 0.0


@op
def record(config: RecordConfig) -> None:
    import numpy as np

    with open(f"/proc/{os.getppid()}/cmdline", "rb") as cmdline:
        parent = cmdline.read().replace(b"\0", b" ").decode()
    Path(config.path).write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "parent_cmdline": parent,
                "draw": float(np.random.random()),
                "gc_enabled": gc.isenabled(),
                "gc_frozen": gc.get_freeze_count(),
            }
        )
    )
    deadline = time.monotonic() + config.linger_s
    while time.monotonic() < deadline:
        time.sleep(0.2)


@job(executor_def=in_process_executor)
def record_job():
    record()


defs = Definitions(jobs=[record_job])
