"""Every interface answers from the selected bank's storage only: credit, advisor, ledger, fraud, reports.

Both banks hold the same customer (``C0000042``) with different data. Each command and asset run for
one bank answers that bank's figures, writes only under that bank's root (the other bank's files stay
byte-identical), and nothing it does reaches the other: a ledger booked at one bank is no ledger at
the other. (``sql``, raw assets and the online service: ``test_isolation.py``, ``test_service_isolation.py``.)
"""

from __future__ import annotations

import json

import duckdb
import pytest

from fintech_dataops.cli import main
from fintech_dataops.lib.tenancy.paths import TENANT_ENV
from fintech_dataops_tests import analytics_data
from fintech_dataops_tests.lib.advisor.advisor_data import build_advisor_warehouse
from fintech_dataops_tests.lib.ledger.conftest import make_sources
from fintech_dataops_tests.tenancy.test_isolation import tree_digest

SCORES = {"acme": 657, "globex": 731}  # C0000042's stored score at each bank


@pytest.fixture()
def banks_with_warehouses(data_dir, two_banks, monkeypatch):
    for name in ("FINTECH_LLM_BASE_URL", "FINTECH_LLM_MODEL", "FINTECH_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    registry, _ = two_banks
    for name, score in SCORES.items():
        build_advisor_warehouse(registry.root(name))
        with duckdb.connect(str(registry.root(name) / "warehouse.duckdb")) as con:
            make_sources(con)  # what the ledger books from
            con.execute("UPDATE credit.scores SET score = ? WHERE customer_id = 'C0000042'", [score])
    return registry


def run_as(tenant: str, monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setenv(TENANT_ENV, tenant)  # (main sets it too; monkeypatch restores it after the test)
    capsys.readouterr()
    code = main(["--tenant", tenant, *args])
    return code, capsys.readouterr().out


def test_cli_commands_read_and_write_only_the_selected_bank(banks_with_warehouses, monkeypatch, capsys, tmp_path):
    registry = banks_with_warehouses
    globex_before = tree_digest(registry.root("globex"))

    # Reads: the same customer id, each bank's own score.
    code, out = run_as("acme", monkeypatch, capsys, "credit", "score", "C0000042")
    assert code == 0 and json.loads(out)["score"] == SCORES["acme"]
    code, out = run_as("acme", monkeypatch, capsys, "advisor", "ask", "--customer", "C0000042",
                       "why is my credit score what it is?")
    assert code == 0 and str(SCORES["acme"]) in json.loads(out)["answer"]
    assert str(SCORES["globex"]) not in out
    # Writes: book and settle acme's ledger; score a file with acme's model and rules.
    assert run_as("acme", monkeypatch, capsys, "ledger", "book", "--start", "2026-11-01", "--end", "2026-11-02")[0] == 0
    assert run_as("acme", monkeypatch, capsys, "ledger", "settle", "--max-entries", "10")[0] == 0
    code, totals = run_as("acme", monkeypatch, capsys, "ledger", "totals")
    assert code == 0 and "no ledger yet" not in totals
    source = tmp_path / "to_score.csv"
    source.write_text("transaction_id,customer_id,merchant_id,amount,currency,event_time,channel,merchant_category,"
                      "country,device_id\nT1,C0000042,M1,950.00,USD,2026-11-03T10:00:00Z,online,grocery,US,D1\n")
    code, _ = run_as("acme", monkeypatch, capsys, "fraud", "score", str(source), str(tmp_path / "scored.csv"))
    assert code == 0 and (tmp_path / "scored.csv").exists()

    # None of it touched a byte of globex, whose own interfaces still answer globex's data only.
    assert tree_digest(registry.root("globex")) == globex_before
    code, out = run_as("globex", monkeypatch, capsys, "credit", "score", "C0000042")
    assert code == 0 and json.loads(out)["score"] == SCORES["globex"]
    code, totals = run_as("globex", monkeypatch, capsys, "ledger", "totals")
    assert code == 0 and "no ledger yet" in totals  # acme's booking is not globex's ledger
    code, out = run_as("globex", monkeypatch, capsys, "advisor", "ask", "--customer", "C0000042",
                       "why is my credit score what it is?")
    assert code == 0 and str(SCORES["globex"]) in json.loads(out)["answer"]
    # The advisor's conversation feed landed each turn at its own bank.
    for name in ("acme", "globex"):
        turns = [line for f in (registry.root(name) / "landing").rglob("*.jsonl") if "advisor" in f.as_posix()
                 for line in f.read_text().splitlines()]
        assert len(turns) == 1, (name, turns)


@pytest.mark.slow
def test_marts_kpis_and_the_monitor_report_of_one_bank_leave_the_other_byte_identical(
        data_dir, two_banks, monkeypatch):
    import dagster as dg

    from fintech_dataops.defs import build_defs

    registry, _ = two_banks
    for name in ("acme", "globex"):
        analytics_data.build_tiny_warehouse(registry.root(name) / "warehouse.duckdb", with_latency=True)
    with duckdb.connect(str(registry.root("globex") / "warehouse.duckdb")) as con:  # globex: one alert fewer
        con.execute("DELETE FROM fraud.alerts WHERE transaction_id = 't5'")
    selection = [dg.AssetKey(["marts", "alert_queue"]), dg.AssetKey(["kpis", "value_at_risk_protected"]),
                 dg.AssetKey(["reports", "monitor"])]
    globex_before = tree_digest(registry.root("globex"))

    monkeypatch.setenv(TENANT_ENV, "acme")  # what acme's code location does in its processes
    result = build_defs().resolve_implicit_global_asset_job_def().execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=selection, raise_on_error=False)
    assert {e.asset_key for e in result.get_asset_materialization_events()} == set(selection)

    assert tree_digest(registry.root("globex")) == globex_before
    assert (registry.root("acme") / "reports" / "monitor.html").exists()
    assert not (registry.root("globex") / "reports").exists() and not (data_dir / "reports").exists()
    with duckdb.connect(str(registry.root("acme") / "warehouse.duckdb"), read_only=True) as con:
        queued = {r[0] for r in con.execute("SELECT transaction_id FROM marts.alert_queue").fetchall()}
    assert "t5" in queued  # acme's own alert, which globex does not have
    with duckdb.connect(str(registry.root("globex") / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts'"
                           ).fetchone()[0] == 0
    report = (registry.root("acme") / "reports" / "monitor.html").read_text()
    assert "data-tenant='acme'" in report and "globex" not in report.lower()


def test_file_arguments_cannot_point_a_command_at_another_banks_or_the_platforms_storage(
        banks_with_warehouses, monkeypatch, capsys, tmp_path):
    registry = banks_with_warehouses
    acme, globex = registry.root("acme"), registry.root("globex")
    landed = globex / "landing" / "transactions" / "date=2026-11-03"
    landed.mkdir(parents=True)
    (landed / "part.jsonl").write_text('{"transaction_id": "G1"}\n')
    (acme / "shortcut").symlink_to(globex)  # a way round through acme's own folder
    globex_before = tree_digest(globex)
    scored = tmp_path / "scored.csv"
    attempts = [
        ("simulate", "--days", "1", "--customers", "5", "--start", "2026-11-01", "--out", str(globex / "landing")),
        ("fraud", "score", str(landed / "part.jsonl"), str(scored)),
        ("fraud", "score", str(acme / "shortcut" / "landing" / "transactions" / "date=2026-11-03" / "part.jsonl"),
         str(scored)),
        ("fraud", "score", str(tmp_path / "in.csv"), str(globex / "reports" / "stolen.csv")),
        ("fraud", "score", str(registry.path), str(scored)),  # the platform's registry
    ]
    monkeypatch.setenv(TENANT_ENV, "acme")
    for args in attempts:
        capsys.readouterr()
        assert main(["--tenant", "acme", *args]) == 2, args
        assert "refused" in capsys.readouterr().err, args
    assert tree_digest(globex) == globex_before and not scored.exists()
    # The default tenant (no --tenant) is a tenant too: no way into a bank's folder from it.
    monkeypatch.delenv(TENANT_ENV)
    assert main(["simulate", "--days", "1", "--customers", "5", "--out", str(globex / "landing")]) == 2
    # Its own folder is fine.
    code, _ = run_as("acme", monkeypatch, capsys, "simulate", "--days", "1", "--customers", "5",
                     "--start", "2026-11-01", "--out", str(acme / "landing"))
    assert code == 0 and any((acme / "landing").rglob("*.jsonl"))
    assert tree_digest(globex) == globex_before
