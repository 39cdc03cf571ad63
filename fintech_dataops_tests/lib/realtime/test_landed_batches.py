import os

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.realtime.landed_batches import BatchCursor, new_batches, parse_batch_key

import pytest


def _land(landing_dir, day, batch_id, mtime_s):
    path = landing.land_batch(landing_dir, "transactions", day, batch_id, b'{"n":1}\n')
    os.utime(path, ns=(int(mtime_s * 1e9), int(mtime_s * 1e9)))
    os.utime(path.parent, ns=(int(mtime_s * 1e9), int(mtime_s * 1e9)))
    return path


def test_only_service_batches_are_picked_in_landing_order(landing_dir):
    _land(landing_dir, "2026-01-01", "rt-b", 1_000)
    _land(landing_dir, "2026-01-01", "rt-a", 2_000)
    _land(landing_dir, "2026-01-01", "sim-42", 1_500)  # the simulator's daily file is not a micro-batch
    batches, cursor = new_batches(landing_dir, BatchCursor())
    assert [b.key for b in batches] == ["date=2026-01-01/rt-b.jsonl", "date=2026-01-01/rt-a.jsonl"]
    assert cursor.watermark_ns == 2_000 * 10**9


def test_a_late_landing_with_an_old_id_is_not_missed(landing_dir):
    _land(landing_dir, "2026-01-02", "rt-20260102-2", 2_000)
    first, cursor = new_batches(landing_dir, BatchCursor.from_json(None))
    _land(landing_dir, "2026-01-01", "rt-20260101-9", 3_000)  # recovered WAL segment: old id, landed now
    second, cursor = new_batches(landing_dir, BatchCursor.from_json(cursor.to_json()))
    assert [b.key for b in second] == ["date=2026-01-01/rt-20260101-9.jsonl"]


def test_the_grace_window_catches_a_slow_rename_without_repeating_what_was_requested(landing_dir):
    _land(landing_dir, "2026-01-01", "rt-1", 100)
    _, cursor = new_batches(landing_dir, BatchCursor(), grace_ns=60 * 10**9)
    _land(landing_dir, "2026-01-01", "rt-0", 90)  # written before rt-1, renamed into view after
    batches, cursor = new_batches(landing_dir, cursor, grace_ns=60 * 10**9)
    assert [b.key for b in batches] == ["date=2026-01-01/rt-0.jsonl"]
    assert new_batches(landing_dir, cursor, grace_ns=60 * 10**9)[0] == []


def test_a_cap_per_tick_defers_the_rest_to_the_next_tick(landing_dir):
    for i in range(5):
        _land(landing_dir, "2026-01-01", f"rt-{i}", 100 + i)
    first, cursor = new_batches(landing_dir, BatchCursor(), max_batches=2)
    second, cursor = new_batches(landing_dir, cursor, max_batches=10)
    assert [b.batch_id for b in first] == ["rt-0", "rt-1"]
    assert [b.batch_id for b in second] == ["rt-2", "rt-3", "rt-4"]


def test_cursor_round_trips_and_stays_small(landing_dir):
    for i in range(3):
        _land(landing_dir, "2026-01-01", f"rt-{i}", 100 + i * 100)
    _, cursor = new_batches(landing_dir, BatchCursor(), grace_ns=150 * 10**9)
    restored = BatchCursor.from_json(cursor.to_json())
    assert restored == cursor
    assert sorted(restored.recent) == ["date=2026-01-01/rt-1.jsonl", "date=2026-01-01/rt-2.jsonl"]


@pytest.mark.parametrize("key", ["../x.jsonl", "date=2026-01-01/../../etc.jsonl", "rt-1.jsonl", "date=2026-01-01/a/b.jsonl"])
def test_batch_keys_outside_the_layout_are_refused(key):
    with pytest.raises(ValueError):
        parse_batch_key(key)
