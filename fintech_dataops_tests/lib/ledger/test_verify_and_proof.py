"""Tamper evidence: any change, reorder or deletion of a stored entry is found and named."""

import copy
from datetime import date

import pytest

from fintech_dataops.lib.ledger.booking import entries_for_day
from fintech_dataops.lib.ledger.merkle import inclusion_proof, merkle_root, verify_proof
from fintech_dataops.lib.ledger.proof import check_proof, entry_proof
from fintech_dataops.lib.ledger.store import book, close_batches
from fintech_dataops.lib.ledger.verify import verify_ledger


@pytest.fixture()
def booked(connect):
    with connect() as con:
        for day in (date(2026, 11, 1), date(2026, 11, 2)):
            book(con, entries_for_day(con, day).entries)
        close_batches(con, max_entries=10)
        assert verify_ledger(con).ok
    return connect


def _entry_at(con, seq):
    return con.execute("SELECT entry_id FROM ledger.entries WHERE seq = ?", [seq]).fetchone()[0]


def test_intact_ledger_verifies(booked):
    with booked() as con:
        report = verify_ledger(con)
    assert report.ok and report.entries == 26 and report.batches == 3


def test_changing_one_stored_amount_names_the_entry(booked):
    with booked() as con:
        victim = _entry_at(con, 7)
        con.execute("UPDATE ledger.postings SET amount_minor = amount_minor + 1 WHERE entry_id = ? AND line_no = 0",
                    [victim])
        report = verify_ledger(con)
    assert not report.ok
    assert report.first.entry_id == victim and report.first.problem == "hash_mismatch"
    # The root is over the stored hashes (unchanged); the batch's net positions are not.
    assert not any(f.problem == "batch_root_mismatch" for f in report.findings)
    assert any(f.problem == "batch_positions_mismatch" for f in report.findings)


def test_rewriting_amount_and_its_hash_still_breaks_the_chain_and_the_batch_root(booked):
    from fintech_dataops.lib.ledger.model import entry_hash
    from fintech_dataops.lib.ledger.store import load_stream

    with booked() as con:
        e = load_stream(con, "main", 7, 7)[0]
        con.execute("UPDATE ledger.postings SET amount_minor = amount_minor + 100 WHERE entry_id = ? AND line_no = 0",
                    [e.entry_id])
        con.execute("UPDATE ledger.postings SET amount_minor = amount_minor - 100 WHERE entry_id = ? AND line_no = 1",
                    [e.entry_id])
        forged = load_stream(con, "main", 7, 7)[0]
        new_hash = entry_hash(forged.stream, forged.seq, forged.event_id, forged.kind, forged.event_time,
                              forged.postings, forged.prev_hash, forged.reverses)
        con.execute("UPDATE ledger.entries SET entry_hash = ? WHERE entry_id = ?", [new_hash, e.entry_id])
        report = verify_ledger(con)
    problems = {(f.problem, f.entry_id) for f in report.findings}
    assert ("chain_break", _entry_id_after(booked, 7)) in problems
    assert any(f.problem == "batch_root_mismatch" for f in report.findings)


def _entry_id_after(connect, seq):
    with connect() as con:
        return _entry_at(con, seq + 1)


def test_reordering_two_entries_names_the_first_moved(booked):
    with booked() as con:
        a, b = _entry_at(con, 4), _entry_at(con, 5)
        con.execute("UPDATE ledger.entries SET seq = -1 WHERE entry_id = ?", [a])
        con.execute("UPDATE ledger.entries SET seq = 4 WHERE entry_id = ?", [b])
        con.execute("UPDATE ledger.entries SET seq = 5 WHERE entry_id = ?", [a])
        report = verify_ledger(con)
    assert not report.ok
    assert report.first.entry_id == b and report.first.seq == 4


def test_deleting_one_entry_names_the_gap(booked):
    with booked() as con:
        victim, successor = _entry_at(con, 12), _entry_at(con, 13)
        con.execute("DELETE FROM ledger.postings WHERE entry_id = ?", [victim])
        con.execute("DELETE FROM ledger.entries WHERE entry_id = ?", [victim])
        report = verify_ledger(con)
    assert not report.ok
    assert report.first.entry_id == successor and report.first.problem == "seq_gap"
    assert "missing seq 12" in report.first.detail
    assert any(f.problem == "batch_count_mismatch" for f in report.findings)


def test_deleting_the_last_entry_of_a_batch_is_found(booked):
    with booked() as con:
        last = con.execute("SELECT max(seq) FROM ledger.entries").fetchone()[0]
        con.execute("DELETE FROM ledger.entries WHERE seq = ?", [last])
        report = verify_ledger(con)
    assert any(f.problem == "batch_count_mismatch" for f in report.findings)


def test_merkle_proofs_hold_for_every_leaf_and_fail_when_altered():
    leaves = [f"{i:064x}" for i in range(1, 8)]
    root = merkle_root(leaves)
    for i, leaf in enumerate(leaves):
        assert verify_proof(leaf, inclusion_proof(leaves, i), root)
    assert not verify_proof(leaves[0], inclusion_proof(leaves, 1), root)
    assert not verify_proof(leaves[2], inclusion_proof(leaves, 2), merkle_root(leaves[:-1]))


def test_entry_proof_document_checks_and_detects_tampering(booked):
    with booked() as con:
        document = entry_proof(con, _entry_at(con, 15))
    assert document["batch_id"] == "B00000002" and document["leaf_index"] == 4
    assert check_proof(document) == []
    altered = copy.deepcopy(document)
    altered["entry"]["postings"][0][2] += 1
    assert "entry fields do not hash to entry_hash" in check_proof(altered)
    wrong_root = dict(document, merkle_root="00" * 32)
    assert check_proof(wrong_root) == ["Merkle path does not lead to merkle_root"]


def test_sql_canonical_bytes_agree_with_python_for_every_entry(booked):
    """verify's vectorised hash must equal model.entry_hash (else every entry falls back to Python)."""
    from datetime import datetime

    from fintech_dataops.lib.ledger.booking import card_payment_entry
    from fintech_dataops.lib.ledger.model import GENESIS_HASH, reversal_of
    from fintech_dataops.lib.ledger.verify import _ENTRY_CHECKS_SQL
    from decimal import Decimal

    payment = card_payment_entry('T"é\\9', "C 1", "M/1", Decimal("7.125"), "BHD", datetime(2026, 11, 3, 1, 2, 3, 45))
    with booked() as con:
        book(con, [payment, reversal_of(payment, "reversal:T9", datetime(2026, 11, 3, 2))])
        assert con.execute(_ENTRY_CHECKS_SQL, [GENESIS_HASH, GENESIS_HASH]).fetchall() == []
        assert verify_ledger(con).ok
