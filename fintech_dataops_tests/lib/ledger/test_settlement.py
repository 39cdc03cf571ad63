"""Settlement on the local EVM chain: anchors, retries without double settlement, persistence,
and reconciliation finding planted differences."""

from datetime import date

import pytest

from fintech_dataops.lib.ledger.booking import entries_for_day
from fintech_dataops.lib.ledger.chain import ChainSendError, LocalChain
from fintech_dataops.lib.ledger.reconcile import booking_differences, chain_differences
from fintech_dataops.lib.ledger.settle import settle_batches
from fintech_dataops.lib.ledger.store import book, close_batches


class FlakyChain(LocalChain):
    """The node fails the first ``failures`` sends: before taking the tx, or after (reply lost)."""

    def __init__(self, directory, failures=1, lose_reply=False):
        super().__init__(directory)
        self.failures, self.lose_reply, self.sends = failures, lose_reply, 0

    def send_raw(self, raw_tx_hex):
        self.sends += 1
        if self.failures:
            self.failures -= 1
            if self.lose_reply:
                super().send_raw(raw_tx_hex)
            raise ChainSendError("connection reset by peer")
        return super().send_raw(raw_tx_hex)


@pytest.fixture()
def batched(connect):
    with connect() as con:
        for day in (date(2026, 11, 1), date(2026, 11, 2)):
            book(con, entries_for_day(con, day).entries)
        close_batches(con, max_entries=10)
    return connect


def _batches(connect):
    with connect() as con:
        return con.execute("SELECT batch_id, status, nonce, tx_hash, block_number, attempts FROM ledger.batches "
                           "ORDER BY batch_no").fetchall()


def test_batches_settle_with_tx_hash_and_block_and_reconcile(batched, tmp_path):
    chain = LocalChain(tmp_path / "chain")
    try:
        report = settle_batches(batched, chain)
        assert report.settled == ["B00000001", "B00000002", "B00000003"]
        rows = _batches(batched)
        assert [r[1] for r in rows] == ["settled"] * 3
        assert [r[2] for r in rows] == [0, 1, 2] and [r[4] for r in rows] == [1, 2, 3]
        with batched() as con:
            assert chain_differences(con, chain) == []
        assert [b for b, _ in chain.anchored_batches()] == [1, 2, 3]
        assert settle_batches(batched, chain).settled == []  # nothing left: never settled twice
    finally:
        chain.close()


@pytest.mark.parametrize("lose_reply", [False, True], ids=["send_refused", "reply_lost"])
def test_failed_send_is_retried_with_the_same_batch_and_tx_never_double_settled(batched, tmp_path, lose_reply):
    chain = FlakyChain(tmp_path / "chain", failures=1, lose_reply=lose_reply)
    try:
        first = settle_batches(batched, chain)
        if lose_reply:  # the node took it: the receipt lookup after the error settles it at once
            assert first.settled[0] == "B00000001" and not first.failed
        else:
            assert first.failed and first.failed[0][0] == "B00000001" and first.settled == []
            failed = _batches(batched)[0]
            assert failed[1] == "failed" and failed[5] == 1
            second = settle_batches(batched, chain)
            assert second.settled == ["B00000001", "B00000002", "B00000003"]
            assert _batches(batched)[0][3] == failed[3]  # the same signed transaction was resent
        settle_batches(batched, chain)
        anchored = [b for b, _ in chain.anchored_batches()]
        assert anchored == [1, 2, 3]  # each batch on chain exactly once
        with batched() as con:
            assert chain_differences(con, chain) == []
    finally:
        chain.close()


def test_local_chain_persists_between_runs(batched, tmp_path):
    chain = LocalChain(tmp_path / "chain")
    settle_batches(batched, chain)
    hashes = [r[3] for r in _batches(batched)]
    chain.close()
    reopened = LocalChain(tmp_path / "chain")
    try:
        assert reopened.replayed == 3
        assert [h for _, h in reopened.anchored_batches()] == hashes
        with batched() as con:
            assert chain_differences(con, reopened) == []
    finally:
        reopened.close()


def test_reconciliation_lists_a_planted_difference(batched, tmp_path):
    chain = LocalChain(tmp_path / "chain")
    try:
        settle_batches(batched, chain)
        with batched() as con:
            victim = con.execute("SELECT entry_id FROM ledger.entries WHERE seq = 13").fetchone()[0]
            con.execute("UPDATE ledger.postings SET amount_minor = amount_minor + 500 WHERE entry_id = ? "
                        "AND line_no = 0", [victim])
            con.execute("UPDATE ledger.postings SET amount_minor = amount_minor - 500 WHERE entry_id = ? "
                        "AND line_no = 1", [victim])
            differences = chain_differences(con, chain)
        assert [(d["batch_id"], d["problem"]) for d in differences] == [("B00000002", "positions_mismatch")]
    finally:
        chain.close()


def test_booking_reconciliation_lists_each_missing_or_extra_payment(batched):
    with batched() as con:
        assert booking_differences(con, [date(2026, 11, 1), date(2026, 11, 2)]) == []
        con.execute("INSERT INTO fraud.scored_transactions VALUES ('T9', 'C1', 'M1', 5.00, 'USD', "
                    "TIMESTAMP '2026-11-01 23:00:00', DATE '2026-11-01', 'approve')")
        con.execute("UPDATE fraud.scored_transactions SET decision = 'block' WHERE transaction_id = 'T0001'")
        differences = booking_differences(con, [date(2026, 11, 1), date(2026, 11, 2)])
    assert [(d["event_id"], d["problem"]) for d in differences] == [
        ("card:T0001", "booked_without_approval"), ("card:T9", "not_booked")]


def test_a_second_opener_of_the_local_chain_waits_then_gets_a_clear_error(tmp_path):
    from fintech_dataops.lib.ledger.chain import ChainBusyError

    chain = LocalChain(tmp_path / "chain")
    try:
        with pytest.raises(ChainBusyError, match="open in another process"):
            LocalChain(tmp_path / "chain", lock_wait_seconds=0.2)
    finally:
        chain.close()
    LocalChain(tmp_path / "chain", lock_wait_seconds=0.2).close()  # free again once closed
