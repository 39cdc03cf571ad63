"""kill -9 between booking and settling: the next `ledger settle` finishes the job without losing
or duplicating an entry, and no batch is anchored twice."""

import os
import signal
import subprocess
import sys
import textwrap

import duckdb
import pytest

from fintech_dataops.lib.ledger.chain import LocalChain
from fintech_dataops_tests.lib.ledger.conftest import make_sources

CRASHING_RUN = textwrap.dedent("""
    import os, signal, sys
    from contextlib import contextmanager
    from datetime import date
    import duckdb
    from fintech_dataops.lib.ledger.booking import entries_for_day
    from fintech_dataops.lib.ledger.chain import LocalChain
    from fintech_dataops.lib.ledger.settle import settle_batches
    from fintech_dataops.lib.ledger.store import book, close_batches

    database, chain_dir, crash_at = sys.argv[1:4]

    @contextmanager
    def connect():
        con = duckdb.connect(database)
        try:
            yield con
        finally:
            con.close()

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    with connect() as con:
        for day in (date(2026, 11, 1), date(2026, 11, 2)):
            book(con, entries_for_day(con, day).entries)
    if crash_at == "after_booking":
        die()
    with connect() as con:
        close_batches(con, max_entries=10)

    class Crashing(LocalChain):
        def after_mined(self, raw_tx_hex):
            if crash_at == "after_journal":
                super().after_mined(raw_tx_hex)
            die()  # mined; the ledger still says "signed"

    settle_batches(connect, Crashing(chain_dir))
""")


@pytest.mark.slow
@pytest.mark.parametrize("crash_at", ["after_booking", "after_mining", "after_journal"])
def test_kill_9_between_booking_and_settling_recovers_without_loss_or_duplicate(data_dir, tmp_path, crash_at):
    database = data_dir / "warehouse.duckdb"
    con = duckdb.connect(str(database))
    make_sources(con)
    con.close()
    script = tmp_path / "crashing_run.py"
    script.write_text(CRASHING_RUN)
    crashed = subprocess.run([sys.executable, str(script), str(database), str(data_dir / "chain"), crash_at],
                             capture_output=True, text=True, timeout=300)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    env = {**os.environ, "FINTECH_DATA_DIR": str(data_dir)}
    cli = [sys.executable, "-m", "fintech_dataops.cli"]
    settled = subprocess.run([*cli, "ledger", "settle", "--max-entries", "10"], capture_output=True, text=True,
                             env=env, timeout=300)
    assert settled.returncode == 0, settled.stdout + settled.stderr
    verified = subprocess.run([*cli, "ledger", "verify"], capture_output=True, text=True, env=env, timeout=300)
    assert verified.returncode == 0, verified.stdout

    con = duckdb.connect(str(database), read_only=True)
    entries, distinct_events = con.execute("SELECT count(*), count(DISTINCT event_id) FROM ledger.entries").fetchone()
    batches = con.execute("SELECT batch_no, status, first_seq, last_seq FROM ledger.batches ORDER BY 1").fetchall()
    con.close()
    assert entries == distinct_events == 26  # nothing lost, nothing booked twice
    assert [b[1] for b in batches] == ["settled"] * 3
    assert [(b[2], b[3]) for b in batches] == [(1, 10), (11, 20), (21, 26)]
    chain = LocalChain(data_dir / "chain")
    try:
        assert [batch for batch, _ in chain.anchored_batches()] == [1, 2, 3]  # each anchored exactly once
    finally:
        chain.close()
