"""The platform's shared helpers that used to be copied (issue 14, small dedups): one durable atomic
write, one transaction helper, one process-liveness probe."""

from __future__ import annotations

import os

import duckdb
import pytest

from fintech_dataops.lib.warehouse import pid_alive, transaction


def test_reports_are_written_durably_through_write_atomic(tmp_path, monkeypatch):
    """A fraud report survives a power cut once written: the bytes are fsynced before the rename."""
    from fintech_dataops.lib.fraud.warehouse_io import save_report

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    path = save_report(tmp_path, "evaluation.md", "precision 0.9\n")
    assert path.read_text() == "precision 0.9\n" and synced
    assert [p.name for p in path.parent.iterdir()] == ["evaluation.md"]  # no temp file left behind


def test_transaction_commits_or_rolls_back_everything():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INTEGER)")
    with transaction(con):
        con.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(KeyboardInterrupt):
        with transaction(con):
            con.execute("INSERT INTO t VALUES (2)")
            raise KeyboardInterrupt  # an interrupt mid-write leaves nothing half done
    assert con.execute("SELECT list(x) FROM t").fetchone()[0] == [1]


def test_pid_alive():
    assert pid_alive(os.getpid())
    assert not pid_alive(2**22 + 12345)  # above the kernel's pid_max: never a live process


def test_fraud_and_credit_auc_are_one_definition_with_ties_counted_half():
    """AUC was written twice (fraud, credit); both are sklearn's roc_auc_score now, ties count half."""
    from fintech_dataops.lib.credit.validation import auc
    from fintech_dataops.lib.fraud.evaluation import auc_roc

    positive = [True, True, False, False, True, False]
    score = [0.9, 0.5, 0.5, 0.1, 0.5, 0.5]  # heavy ties
    expected = 7 / 9  # 9 (positive, negative) pairs: 0.9 beats all 3; each 0.5 beats 0.1 and ties two 0.5s
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0
               for p, is_p in zip(score, positive) if is_p for n, is_n in zip(score, positive) if not is_n)
    assert wins / 9 == expected
    assert auc_roc(positive, score) == expected
    assert auc(score, [not p for p in positive]) == expected  # credit: defaulters are the low scores
    assert auc_roc([True, True], [0.1, 0.2]) is None and auc([0.1, 0.2], [False, False]) is None
