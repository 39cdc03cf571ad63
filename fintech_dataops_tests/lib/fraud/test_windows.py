"""The online windows answer exactly what gathering every remembered row would (the batch path)."""

import numpy as np
import pandas as pd
import pytest

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.fraud.features import US_PER_SECOND
from fintech_dataops.lib.fraud.windows import CustomerWindow

T0 = pd.Timestamp("2026-03-10 12:00:00")


def _columns(rng: np.random.Generator, n: int, start_us: int, spread_s: float, tag: str) -> dict:
    # Few customers, coarse times (many exact ties), a few devices including none.
    customers = rng.choice([f"C{i}" for i in range(6)], n).astype(object)
    seconds = np.round(rng.uniform(0, spread_s, n) / 5) * 5
    event_us = (start_us + seconds * US_PER_SECOND).astype("int64")
    amount = np.round(rng.uniform(1, 400, n), 2)
    return {
        "transaction_id": np.array([f"{tag}{i:04d}" for i in rng.permutation(n)], dtype=object),
        "customer_id": customers,
        "merchant_id": rng.choice(["M1", "M2"], n).astype(object),
        "device_id": rng.choice(["D1", "D2", ""], n).astype(object),
        "currency": np.full(n, "USD", dtype=object),
        "amount": amount,
        "amount_cents": np.round(amount * 100).astype("int64"),
        "event_us": event_us,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_windows_equal_gathered_windows_with_ties_and_late_events(seed):
    rng = np.random.default_rng(seed)
    engine = FraudEngine()
    start = int(T0.value // 1000)
    clock = start
    for step in range(12):
        # Mostly forward in time; every third batch reaches hours back (late events).
        base = clock - (3 * 3600 * US_PER_SECOND if step % 3 == 2 else 0)
        batch = _columns(rng, int(rng.integers(1, 40)), base, spread_s=600, tag=f"s{seed}b{step}-")
        lists = (batch["customer_id"].tolist(), batch["event_us"].tolist(), batch["transaction_id"].tolist())
        incremental = engine._incremental_windows(batch, *lists)
        gathered = engine._gathered_windows(batch)
        for got, want in zip(incremental[:2], gathered[:2]):
            for label in want:
                np.testing.assert_array_equal(got[label], want[label], err_msg=f"step {step} {label}")
        for got, want in zip(incremental[2:], gathered[2:]):
            np.testing.assert_array_equal(got, want, err_msg=f"step {step}")
        engine.score_arrays(batch)
        clock += 15 * 60 * US_PER_SECOND
    # The row count /health shows is kept incrementally: it must equal a full count.
    assert engine.state_size["customer_transactions"] == sum(len(engine.window_entries(c)) for c in engine._customers)


def test_a_resent_transaction_takes_the_gathering_path_and_is_not_counted_twice():
    engine = FraudEngine()
    records = [{"transaction_id": f"T{i}", "customer_id": "C1", "merchant_id": "M1", "amount": 10.0,
                "currency": "USD", "event_time": T0 + pd.Timedelta(seconds=i)} for i in range(3)]
    engine.score_batch(records)
    again = engine.score_batch([records[-1]])  # the client resends T2 after a timeout
    fresh = FraudEngine().score_frame(pd.DataFrame(records))
    assert again["rule_ids"].iloc[0] == fresh["rule_ids"].iloc[-1]
    assert again["risk_score"].iloc[0] == fresh["risk_score"].iloc[-1]


def test_a_window_keeps_rows_sorted_and_its_running_sum_right_after_a_late_insert():
    window = CustomerWindow()
    for us, tx, cents in [(10, "b", 100), (30, "d", 300), (20, "c", 200), (10, "a", 50)]:
        window.add(us, tx, cents, "")
    assert [(t, x, c) for t, x, c, _ in window.entries()] == [(10, "a", 50), (10, "b", 100), (20, "c", 200),
                                                              (30, "d", 300)]
    assert window.rank(10, "b") == 1 and window.rank(20, "a") == 2 and window.rank(31, "") == 4
    window.drop_before(20)
    assert [(t, x, c) for t, x, c, _ in window.entries()] == [(20, "c", 200), (30, "d", 300)]


def test_a_bulk_warm_start_builds_the_same_windows_as_row_by_row(monkeypatch):
    from fintech_dataops.lib.fraud import engine as engine_module

    rng = np.random.default_rng(5)
    n = 60_000  # above the bulk threshold
    history = pd.DataFrame({
        "transaction_id": [f"H{i:06d}" for i in rng.permutation(n)],
        "customer_id": rng.choice([f"C{i}" for i in range(500)], n),
        "merchant_id": rng.choice(["M1", "M2", "M3"], n),
        "amount": np.round(rng.uniform(1, 300, n), 2),
        "currency": "USD",
        "event_time": T0 - pd.to_timedelta(np.round(rng.uniform(0, 40 * 86_400, n)), unit="s"),
        "device_id": rng.choice(["D1", "D2"], n),
    })
    bulk = FraudEngine()
    assert bulk.warm_start(history) > 0
    monkeypatch.setattr(engine_module, "_BULK_ROWS", 10**9)
    row_by_row = FraudEngine()
    row_by_row.warm_start(history)
    assert bulk.state_size == row_by_row.state_size
    assert bulk.state_size["customer_transactions"] == sum(len(bulk.window_entries(c)) for c in bulk._customers)
    # Least recently active first, in both: eviction reads idle customers off the front.
    newest = [bulk.window_entries(c)[-1][0] for c in bulk._customers]
    assert newest == sorted(newest) and list(bulk._customers) == list(row_by_row._customers)
    assert all(bulk.window_entries(c) == row_by_row.window_entries(c) for c in bulk._customers)


def _index_matches_windows(engine: FraudEngine) -> None:
    from collections import Counter

    held = Counter(tx for c in engine._customers for _, tx, _, _ in engine.window_entries(c))
    assert dict(held) == engine._ids._copies


def test_the_remembered_id_index_follows_every_add_drop_resend_and_eviction():
    rng = np.random.default_rng(5)
    engine = FraudEngine()
    start = int(T0.value // 1000)
    history = pd.DataFrame(_columns(rng, 300, start - 20 * 24 * 3600 * US_PER_SECOND, spread_s=20 * 24 * 3600,
                                    tag="warm-"))
    history["event_time"] = pd.to_datetime(history["event_us"], unit="us")
    engine.warm_start(history.drop(columns=["event_us", "amount_cents"]))
    _index_matches_windows(engine)
    assert len(engine._ids) > 0
    clock = start
    for step in range(10):
        batch = _columns(rng, int(rng.integers(5, 40)), clock, spread_s=600, tag=f"b{step}-")
        if step == 4:  # resends: three ids of the previous batch come back (one copy more each)
            batch["transaction_id"][:3] = [f"b3-{i:04d}" for i in range(3)]
            assert engine._ids.holds_any(batch["transaction_id"].tolist())
        engine.score_arrays(batch)
        _index_matches_windows(engine)
        if step == 4:
            assert engine._ids._copies["b3-0000"] == 2
        clock += 9 * 24 * 3600 * US_PER_SECOND  # every step ages rows out of the 30-day horizon
    assert "warm-0000" not in engine._ids  # aged out with its row
    engine.evict_idle(max_customers=2)
    _index_matches_windows(engine)
    engine.evict_idle()
    _index_matches_windows(engine)


def test_same_device_counts_of_single_device_windows_equal_gathering_until_a_second_device_appears():
    """Most customers use one device: their window counts same-device rows by subtraction."""
    rng = np.random.default_rng(11)
    engine = FraudEngine()
    clock = int(T0.value // 1000)
    for step in range(10):
        batch = _columns(rng, int(rng.integers(3, 30)), clock - (2 * 3600 * US_PER_SECOND if step == 5 else 0),
                         spread_s=600, tag=f"d{step}-")
        # one device per customer (its own, or none for C5) until step 6, when C0 and C1 take a second one
        batch["device_id"] = np.array([("" if c == "C5" else f"D-{c}") if step < 6 or c not in ("C0", "C1")
                                       else rng.choice([f"D-{c}", "D-new"]) for c in batch["customer_id"]],
                                      dtype=object)
        lists = (batch["customer_id"].tolist(), batch["event_us"].tolist(), batch["transaction_id"].tolist())
        incremental = engine._incremental_windows(batch, *lists)
        gathered = engine._gathered_windows(batch)
        np.testing.assert_array_equal(incremental[4], gathered[4], err_msg=f"step {step}")
        engine.score_arrays(batch)
        clock += 20 * 60 * US_PER_SECOND
    assert not engine._customers["C2"].mixed
    assert engine._customers["C0"].mixed or engine._customers["C1"].mixed
