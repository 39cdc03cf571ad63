"""``fintech-dataops sql``: PII masked, formats, limits, timeouts, and no lock error while a pipeline writes."""

import json
import subprocess
import sys
import textwrap
import time

import pytest

from fintech_dataops.cli import main
from fintech_dataops.lib.self_service.pm_view import read_snapshot_meta, snapshot_path_for
from fintech_dataops_tests.analytics_data import build_tiny_warehouse

WRITER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])          # read-write: holds the file lock like a materialization
    con.execute("INSERT INTO core.transactions (transaction_id, customer_id, amount) VALUES ('t99', 'c9', 1.0)")
    print("holding", flush=True)
    sys.stdin.read()                           # hold until the test closes stdin
    con.close()
    """
)


@pytest.fixture()
def warehouse(data_dir):
    return build_tiny_warehouse(data_dir / "warehouse.duckdb")


def sql(data_dir, *args):
    return main(["--data-dir", str(data_dir), "sql", *args])


def test_pii_is_masked_in_the_pm_view(warehouse, data_dir, capsys):
    assert sql(data_dir, "-f", "json", "SELECT customer_id, full_name, email FROM core.customers ORDER BY 1") == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {"customer_id": "c1", "full_name": "A***", "email": "a***@example.com"},
        {"customer_id": "c2", "full_name": "A***", "email": "a***@example.org"},
    ]
    snapshot = snapshot_path_for(data_dir).read_bytes()
    assert b"Lovelace" not in snapshot and b"ada@example.com" not in snapshot


def test_table_csv_and_row_limit(warehouse, data_dir, capsys):
    assert sql(data_dir, "--limit", "2", "SELECT transaction_id, amount FROM core.transactions ORDER BY 1") == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0].split("|")[0].strip() == "transaction_id" and len(lines) == 4  # header, rule, 2 rows
    assert "row limit 2" in err
    assert sql(data_dir, "-f", "csv", "SELECT transaction_id, amount FROM core.transactions ORDER BY 1 LIMIT 2") == 0
    assert capsys.readouterr().out.strip().splitlines() == ["transaction_id,amount", "t1,900.0", "t2,250.0"]


def test_refused_statement_exits_2_and_changes_nothing(warehouse, data_dir, capsys):
    assert sql(data_dir, "DELETE FROM core.transactions") == 2
    assert "read-only" in capsys.readouterr().err
    assert sql(data_dir, "SELECT count(*) AS n FROM core.transactions", "-f", "json") == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 6}]


def test_a_long_query_is_interrupted_at_the_timeout(warehouse, data_dir, capsys):
    assert sql(data_dir, "--timeout", "0.3", "SELECT count(*) FROM range(1000000000000) a") == 3
    assert "longer than 0.3s" in capsys.readouterr().err


def test_a_query_past_the_memory_cap_is_stopped_with_a_clear_message(warehouse, data_dir, capsys):
    assert sql(data_dir, "--timeout", "120", "--max-memory", "768", "SELECT repeat('x', 1500000000)") == 3
    assert "more than 768 MB of memory" in capsys.readouterr().err


def test_no_server_path_reaches_the_pm(warehouse, data_dir, capsys):
    """Issue 13, item 12: current_setting('temp_directory') showed the data dir to a PM."""
    from pathlib import Path

    for query in ("SELECT current_setting('temp_directory')", "SELECT path FROM duckdb_databases()",
                  "SELECT * FROM pragma_database_list", "SELECT * FROM duckdb_extensions()",
                  "SELECT * FROM no_such_schema.no_such_table"):
        code = sql(data_dir, "-f", "json", query)
        out, err = capsys.readouterr()
        assert code in (1, 2), (query, out)
        for path in (str(data_dir), str(data_dir.resolve()), str(Path.home())):
            assert path not in out + err, (query, err)


def test_interactive_prompt_runs_each_query(warehouse, data_dir, capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("SELECT 1 AS one;\nSELECT band\nFROM credit.scores GROUP BY 1 ORDER BY 1;\n\\q\n"))
    assert sql(data_dir, "-f", "csv") == 0
    assert capsys.readouterr().out.split() == ["one", "1", "band", "fair", "good", "poor"]


def _hold_warehouse(path):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "holding"
    return writer


@pytest.mark.slow
def test_queries_work_while_a_materialization_holds_the_warehouse(warehouse, data_dir, capsys):
    assert sql(data_dir, "SELECT 1") == 0  # publishes the PM view
    capsys.readouterr()
    writer = _hold_warehouse(warehouse)
    try:
        assert sql(data_dir, "-f", "json", "SELECT count(*) AS n FROM core.transactions") == 0
        out, err = capsys.readouterr()
        assert json.loads(out) == [{"n": 6}]  # the last published state, not a lock error
        assert "a pipeline is writing the warehouse" in err and "lock" not in err.lower()
    finally:
        writer.stdin.close()
        writer.wait(timeout=30)
    # Once the writer is done the next query re-publishes and sees its row.
    assert sql(data_dir, "-f", "json", "SELECT count(*) AS n FROM core.transactions") == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 7}]


@pytest.mark.slow
def test_first_query_waits_for_the_writer_when_nothing_is_published_yet(warehouse, data_dir, capsys):
    writer = _hold_warehouse(warehouse)

    def release():
        time.sleep(1.0)
        writer.stdin.close()
        writer.wait(timeout=30)

    import threading

    thread = threading.Thread(target=release)
    thread.start()
    try:
        assert sql(data_dir, "-f", "json", "SELECT count(*) AS n FROM core.transactions") == 0
    finally:
        thread.join()
    assert json.loads(capsys.readouterr().out) == [{"n": 7}]
    assert read_snapshot_meta(snapshot_path_for(data_dir)) is not None


def test_no_warehouse_is_a_clear_message(data_dir, capsys):
    assert sql(data_dir, "SELECT 1") == 4
    assert "no warehouse yet" in capsys.readouterr().err
