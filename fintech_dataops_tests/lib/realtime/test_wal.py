import orjson

from fintech_dataops.lib.realtime.wal import DECISIONS_FEED, EVENTS_FEED, DurableLog, LogEntry


def _landed(data_dir, feed):
    files = sorted((data_dir / "landing" / feed).rglob("*.jsonl"))
    return [line for f in files for line in f.read_text().splitlines()]


def test_rotation_lands_events_and_decisions_per_day_and_empties_the_wal(data_dir):
    log = DurableLog(data_dir)
    log.append([
        LogEntry(line='{"transaction_id":"a"}', day="2026-01-01", decision={"transaction_id": "a", "decision": "review"}),
        LogEntry(line="not json", day="2026-01-02"),
    ])
    batch = log.rotate()
    assert batch.events == 2 and batch.decisions == 1
    assert sorted(p.parent.name for p in batch.files) == ["date=2026-01-01", "date=2026-01-01", "date=2026-01-02"]
    assert _landed(data_dir, EVENTS_FEED) == ['{"transaction_id":"a"}', "not json"]
    assert [orjson.loads(x)["decision"] for x in _landed(data_dir, DECISIONS_FEED)] == ["review"]
    assert log.pending_segments == 0
    assert log.rotate() is None  # nothing open, nothing landed


def test_segments_left_by_a_killed_process_are_landed_on_recovery_and_a_torn_tail_is_skipped(data_dir):
    crashed = DurableLog(data_dir)
    crashed.append([LogEntry(line=f'{{"n":{i}}}', day="2026-01-01") for i in range(3)])
    segment = next(crashed.wal_dir.glob("*.wal"))
    with open(segment, "ab") as handle:  # the process died inside write(): never fsynced, never acknowledged
        handle.write(b'{"e":"half')
    recovered = DurableLog(data_dir).recover()
    assert [b.events for b in recovered] == [3]
    assert _landed(data_dir, EVENTS_FEED) == ['{"n":0}', '{"n":1}', '{"n":2}']
    assert not segment.exists()


def test_recovery_after_a_rotation_interrupted_between_landing_and_delete_lands_nothing_twice(data_dir):
    log = DurableLog(data_dir)
    log.append([LogEntry(line='{"n":1}', day="2026-01-01")])
    segment = next(log.wal_dir.glob("*.wal"))
    kept = segment.read_bytes()
    log.rotate()
    segment.write_bytes(kept)  # as if the process died before deleting the segment
    again = DurableLog(data_dir).recover()
    assert again[0].already_landed == 1
    assert _landed(data_dir, EVENTS_FEED) == ['{"n":1}']


def test_background_rotation_lands_within_the_rotation_period(data_dir):
    import time

    log = DurableLog(data_dir, rotate_seconds=0.05)
    log.start()
    try:
        log.append([LogEntry(line='{"n":1}', day="2026-01-01")])
        deadline = time.monotonic() + 60  # waits for the rotation, ends as soon as it lands
        while log.landed_events < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        log.close()
    assert _landed(data_dir, EVENTS_FEED) == ['{"n":1}']


def test_a_second_live_writer_is_refused_and_a_dead_ones_claim_is_free(data_dir):
    """Seen in CI: two services on one data dir (three lifespans of one app in a test) — the second's
    recovery landed the first's *open* segment and unlinked it; the first's close then failed, and its
    events would have landed twice. A service claims its WAL; a second one is refused at start."""
    import subprocess
    import sys
    import textwrap

    import pytest

    from fintech_dataops.lib.realtime.wal import WalInUse

    first = DurableLog(data_dir)
    first.claim()
    first.append([LogEntry(line='{"n":1}', day="2026-01-01")])
    with pytest.raises(WalInUse, match="another decision service"):
        DurableLog(data_dir).claim()
    first.close()  # lands and releases
    assert _landed(data_dir, EVENTS_FEED) == ['{"n":1}']
    second = DurableLog(data_dir)
    second.claim()
    second.close()

    # A writer killed with SIGKILL leaves its claim to the kernel, which drops it with the process.
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from fintech_dataops.lib.realtime.wal import DurableLog
        DurableLog(Path({str(data_dir)!r})).claim()
        print("claimed", flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "claimed"
        with pytest.raises(WalInUse):
            DurableLog(data_dir).claim()
    finally:
        holder.kill()
        holder.wait()
    third = DurableLog(data_dir)
    third.claim()
    third.close()


def test_a_data_dir_deleted_under_the_service_is_not_brought_back_at_close(data_dir):
    """Seen in CI (flaky): a bank offboarded with `tenant delete` while the service ran; at shutdown its
    WAL tried to land the open segment from memory into the deleted tenant's dir (recreating it) and
    failed on the segment file the delete had removed, taking the whole service's shutdown with it."""
    import shutil

    log = DurableLog(data_dir / "tenant")
    log.claim()
    log.append([LogEntry(line='{"n":1}', day="2026-01-01")])
    shutil.rmtree(data_dir / "tenant")  # what TenantRegistry.delete does to the tenant's root
    log.close()  # no error ...
    assert not (data_dir / "tenant").exists()  # ... and nothing of the deleted tenant comes back
