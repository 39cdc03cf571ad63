"""A gated daily job for the run-queue test: each run holds its run slot until the test opens the gate.

Loaded as one code location per tenant (``tenant-<name>``, as ``fintech-dataops tenant workspace``
names them), so the instance's tag concurrency limits see each bank as the deployment does. The
gate makes the queue's state observable without depending on how long a run takes: a run that
started stays STARTED until ``$QUEUE_PROBE_GATE`` exists.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg

GATE_ENV = "QUEUE_PROBE_GATE"
GATE_TIMEOUT_SECONDS = 600  # a forgotten gate fails the run instead of holding a slot for ever


@dg.op
def hold_until_gate_opens(context) -> str:
    gate = Path(os.environ[GATE_ENV])
    deadline = time.monotonic() + GATE_TIMEOUT_SECONDS
    while not gate.exists():
        if time.monotonic() > deadline:
            raise dg.Failure(f"gate {gate} never opened")
        time.sleep(0.2)
    return context.partition_key


@dg.job(partitions_def=dg.DailyPartitionsDefinition(start_date="2026-11-01"), executor_def=dg.in_process_executor)
def tenant_backfill_probe():
    hold_until_gate_opens()


defs = dg.Definitions(jobs=[tenant_backfill_probe])
