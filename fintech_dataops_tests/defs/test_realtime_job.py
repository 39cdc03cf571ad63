"""The near-real-time job: one landed micro-batch → validated events, alerts and latency (dg.materialize)."""

import orjson
import dagster as dg

from fintech_dataops.defs.realtime.assets import OP_NAME, realtime_fraud_batch
from fintech_dataops.lib import warehouse
from fintech_dataops.lib.ingestion import landing
from fintech_dataops_tests.lib.realtime.helpers import tx


def _land(landing_dir, batch_id, records, day="2026-03-01"):
    body = b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)
    return landing.land_batch(landing_dir, "transactions", day, batch_id, body)


def _materialize(resources, keys):
    return dg.materialize(
        [realtime_fraud_batch], resources=resources,
        run_config=dg.RunConfig(ops={OP_NAME: {"config": {"batches": keys}}}),
    )


def test_the_job_turns_one_batch_into_validated_events_alerts_and_a_latency_row(data_dir, landing_dir, resources):
    records = [tx("HV", "C-hv", 950.0), *[tx(f"V{i}", "C-burst", 10.0, seconds=i) for i in range(5)],
               b"{broken json", orjson.dumps({**tx("BAD"), "amount": "lots"})]
    _land(landing_dir, "rt-0001", records)
    result = _materialize(resources, ["date=2026-03-01/rt-0001.jsonl"])
    assert result.success
    with warehouse.connection(data_dir / "warehouse.duckdb", read_only=True) as con:
        valid = con.execute("SELECT count(*) FROM realtime.transactions").fetchall()[0][0]
        alerts = con.execute(
            "SELECT transaction_id, decision, rule_ids FROM fraud.realtime_alerts ORDER BY transaction_id"
        ).fetchall()
        latency = con.execute(
            "SELECT batch_id, events, valid_events, quarantined_events, alerts, latency_ms_p50, latency_ms_p99, "
            "landed_to_alert_ms, alerted_at >= landed_at FROM realtime.batch_latency"
        ).fetchall()
    assert valid == 6
    assert alerts == [("HV", "review", ["HIGH_VALUE"]), ("V3", "review", ["VELOCITY"]), ("V4", "review", ["VELOCITY"])]
    batch_id, events, ok, quarantined, n_alerts, p50, p99, landed_to_alert, ordered = latency[0]
    assert (batch_id, events, ok, quarantined, n_alerts) == ("date=2026-03-01/rt-0001.jsonl", 8, 6, 2, 3)
    assert 0 < p50 <= p99 and landed_to_alert >= 0 and ordered
    mats = {tuple(m.asset_key.path): m.metadata for m in result.get_asset_materialization_events()
            and [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]}
    assert mats[("fraud", "realtime_alerts")]["dagster/row_count"].value == 3
    assert mats[("realtime", "batch_latency")]["latency_ms_p99"].value == p99


def test_rerunning_a_batch_is_idempotent_and_an_unknown_key_is_skipped(data_dir, landing_dir, resources):
    _land(landing_dir, "rt-0001", [tx("HV", amount=990.0)])
    key = "date=2026-03-01/rt-0001.jsonl"
    assert _materialize(resources, [key]).success
    assert _materialize(resources, [key, "date=2026-03-01/rt-missing.jsonl"]).success
    with warehouse.connection(data_dir / "warehouse.duckdb", read_only=True) as con:
        counts = [con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                  for t in ("realtime.transactions", "fraud.realtime_alerts", "realtime.batch_latency")]
    assert counts == [1, 1, 1]


def test_an_empty_config_catches_up_every_unprocessed_batch(data_dir, landing_dir, resources):
    _land(landing_dir, "rt-0001", [tx("A", amount=990.0)])
    _land(landing_dir, "rt-0002", [tx("B", amount=5.0)])
    assert _materialize(resources, []).success
    with warehouse.connection(data_dir / "warehouse.duckdb", read_only=True) as con:
        batches = con.execute("SELECT batch_id FROM realtime.batch_latency ORDER BY 1").fetchall()
    assert [b[0] for b in batches] == ["date=2026-03-01/rt-0001.jsonl", "date=2026-03-01/rt-0002.jsonl"]
