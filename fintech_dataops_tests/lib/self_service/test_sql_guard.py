"""The PM SQL guard: every kind of write or file access is refused; plain queries pass."""

import duckdb
import pytest

from fintech_dataops.lib.self_service.pm_view import open_pm_connection
from fintech_dataops.lib.self_service.sql_guard import RefusedQuery, check_query, tables_read

REFUSED = [
    # (statement, words the message must contain)
    ("INSERT INTO core.customers VALUES ('x')", "writes data"),
    ("UPDATE fraud.alerts SET decision = 'approve'", "writes data"),
    ("DELETE FROM fraud.alerts", "writes data"),
    ("CREATE TABLE marts.mine AS SELECT 1", "DDL"),
    ("CREATE OR REPLACE VIEW v AS SELECT 1", "DDL"),
    ("DROP TABLE core.customers", "DDL"),
    ("ALTER TABLE core.customers ADD COLUMN x INT", "DDL"),
    ("ATTACH 'other.duckdb' AS other", "attaches"),
    ("DETACH other", "detaches"),
    ("COPY core.customers TO '/tmp/out.csv'", "files"),
    ("COPY core.customers FROM '/tmp/in.csv'", "files"),
    ("EXPORT DATABASE '/tmp/dump'", "exports"),
    ("INSTALL httpfs", "extension"),
    ("LOAD httpfs", "extension"),
    ("SET enable_external_access = true", "setting"),
    ("RESET threads", "setting"),
    ("USE memory", "setting"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("CALL pragma_version()", "CALL"),
    ("CHECKPOINT", "CALL"),
    ("BEGIN TRANSACTION", "transactions"),
    ("VACUUM", "storage"),
    ("SELECT 1; DROP TABLE core.customers", "one statement"),
    ("EXPLAIN ANALYZE DELETE FROM fraud.alerts", "writes data"),
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv()"),
    ("SELECT * FROM read_csv_auto('x.csv')", "read_csv_auto()"),
    ("SELECT * FROM read_parquet('s3://bucket/x.parquet')", "read_parquet()"),
    ("SELECT * FROM read_json('x.json')", "read_json()"),
    ("SELECT content FROM read_text('/etc/hostname')", "read_text()"),
    ("SELECT * FROM read_blob('x.bin')", "read_blob()"),
    ("SELECT * FROM glob('/etc/*')", "glob()"),
    ("SELECT * FROM parquet_metadata('x.parquet')", "parquet_metadata()"),
    ("SELECT * FROM sqlite_scan('x.db', 't')", "sqlite_scan()"),
    ("SELECT * FROM query('SELECT * FROM read_csv(''x'')')", "query()"),
    ("SELECT * FROM '/etc/passwd'", "reads a file"),
    ("FROM 'data/landing/customers.csv'", "reads a file"),
    ("SELECT * FROM 'https://example.com/x.parquet'", "reads a file"),
    ("WITH x AS (SELECT * FROM read_csv('a.csv')) SELECT * FROM x", "read_csv()"),
    ("SELECT * FROM core.t WHERE id IN (SELECT id FROM glob('*'))", "glob()"),
    ("SELECT (SELECT content FROM read_text('x'))", "read_text()"),
    # Server settings and files: each can show the data dir, the temp directory or the home directory.
    ("SELECT current_setting('temp_directory')", "server's configuration"),
    ("SELECT CURRENT_SETTING('home_directory') AS h", "server's configuration"),
    ("SELECT name, value FROM duckdb_settings()", "server's configuration"),
    ("SELECT path FROM duckdb_databases()", "server's configuration"),
    ("SELECT * FROM pragma_database_list", "server's configuration"),
    ("SELECT * FROM pragma_database_list()", "server's configuration"),
    ("SELECT install_path FROM duckdb_extensions()", "server's configuration"),
    ("SELECT * FROM duckdb_temporary_files()", "server's configuration"),
    ("SELECT * FROM duckdb_secrets()", "server's configuration"),
    ("SELECT x FROM (SELECT current_setting('temp_directory') AS x)", "server's configuration"),
    ("EXPLAIN SELECT current_setting('temp_directory')", "server's configuration"),
    ("", "empty"),
    ("SELEC 1", "syntax"),
]


@pytest.mark.parametrize("sql, expected", REFUSED, ids=[r[0][:40] or "empty" for r in REFUSED])
def test_writes_and_file_access_are_refused_with_a_clear_message(sql, expected):
    with pytest.raises(RefusedQuery) as excinfo:
        check_query(sql)
    assert expected.lower() in str(excinfo.value).lower()


ALLOWED = [
    ("SELECT band, count(*) FROM credit.scores GROUP BY band", ("credit.scores",)),
    ("WITH a AS (SELECT * FROM fraud.alerts) SELECT * FROM a JOIN core.customers USING (customer_id)",
     ("fraud.alerts", "core.customers")),
    ("FROM marts.alert_queue LIMIT 5", ("marts.alert_queue",)),
    ("DESCRIBE core.transactions", ("core.transactions",)),
    ("SUMMARIZE core.transactions", ("core.transactions",)),
    ("SHOW ALL TABLES", ()),
    ("EXPLAIN SELECT * FROM fraud.alerts", ("fraud.alerts",)),
    ("SELECT 1;", ()),
]


@pytest.mark.parametrize("sql, tables", ALLOWED)
def test_read_only_queries_pass_and_report_the_tables_they_read(sql, tables):
    checked = check_query(sql)
    assert set(checked.tables) == set(tables)
    assert not checked.sql.endswith(";")


def test_ctes_and_subqueries_are_not_mistaken_for_tables():
    sql = "WITH recent AS (SELECT * FROM fraud.alerts) SELECT * FROM recent r WHERE r.customer_id IN " \
          "(SELECT customer_id FROM credit.scores)"
    assert set(tables_read(sql)) == {"fraud.alerts", "credit.scores"}


def test_the_connection_refuses_too_even_if_the_guard_were_bypassed(tmp_path):
    """Second layer: the PM connection itself cannot write, attach, read files or change settings."""
    db = tmp_path / "view.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT 42 AS x")
    con.close()
    (tmp_path / "secret.csv").write_text("a\n1\n")
    pm = open_pm_connection(db)
    try:
        assert pm.execute("SELECT x FROM t").fetchone() == (42,)
        for statement in (
            "INSERT INTO t VALUES (1)",
            f"SELECT * FROM read_csv('{tmp_path / 'secret.csv'}')",
            f"SELECT * FROM '{tmp_path / 'secret.csv'}'",
            f"ATTACH '{tmp_path / 'other.duckdb'}' AS other",
            "SET enable_external_access = true",
            f"COPY t TO '{tmp_path / 'out.csv'}'",
        ):
            with pytest.raises(duckdb.Error):
                pm.execute(statement)
        assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.duckdb").exists()
    finally:
        pm.close()
