"""`fintech-dataops ledger verify / proof / verify-proof / reconcile` on a settled ledger."""

import json

import duckdb

from fintech_dataops.cli import main
from fintech_dataops_tests.lib.ledger.conftest import make_sources


def _settled_ledger(data_dir):
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        make_sources(con)
    assert main(["ledger", "book", "--start", "2026-11-01", "--end", "2026-11-02"]) == 0
    assert main(["ledger", "settle", "--max-entries", "10"]) == 0


def test_verify_passes_then_names_the_deleted_entry(data_dir, capsys):
    _settled_ledger(data_dir)
    assert main(["ledger", "verify"]) == 0
    assert "26 entries, 3 batches" in capsys.readouterr().out
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        successor = con.execute("SELECT entry_id FROM ledger.entries WHERE seq = 9").fetchone()[0]
        con.execute("DELETE FROM ledger.entries WHERE seq = 8")
    assert main(["ledger", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"first bad: seq_gap: entry {successor}" in out and "missing seq 8" in out


def test_proof_round_trip_and_reconcile(data_dir, capsys, tmp_path):
    _settled_ledger(data_dir)
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        entry_id = con.execute("SELECT entry_id FROM ledger.entries WHERE seq = 21").fetchone()[0]
    capsys.readouterr()
    assert main(["ledger", "proof", entry_id]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["batch_id"] == "B00000003" and document["anchor"]["status"] == "settled"
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(json.dumps(document))
    assert main(["ledger", "verify-proof", str(proof_file)]) == 0
    document["proof"][0]["hash"] = "11" * 32
    proof_file.write_text(json.dumps(document))
    assert main(["ledger", "verify-proof", str(proof_file)]) == 1
    assert main(["ledger", "reconcile"]) == 0
    assert json.loads(capsys.readouterr().out.split("proof INVALID")[-1].split("\n", 1)[1]) == {
        "chain_differences": [], "booking_differences": []}
