"""A fresh demo-style run (`fintech-dataops demo`): every table is an asset, and none runs before what it reads."""

import datetime as dt

import dagster as dg
import duckdb
import pytest

from fintech_dataops.lib.ingestion.feeds import FEEDS

START = dt.date(2026, 10, 1)


@pytest.mark.slow
def test_fresh_run_materializes_each_asset_after_its_inputs(data_dir, landing_dir):
    from fintech_dataops.commands.pipeline import ensure_dagster_home, run_pipeline
    from fintech_dataops.commands.simulate import simulate_into
    from fintech_dataops.definitions import defs

    ensure_dagster_home(data_dir)
    simulate_into(landing_dir, start=START, days=1, customers=120, seed=3, echo=lambda *_: None)
    assert run_pipeline(START, START, echo=lambda *_: None)

    instance = dg.DagsterInstance.get()
    run = instance.get_runs(limit=1)[0]
    order = [e.dagster_event.asset_key for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)]
    graph = defs.resolve_asset_graph()
    assert set(graph.materializable_asset_keys) <= set(order)  # the demo runs every asset
    # The only other keys are quarantine/<feed>: external specs whose materializations core/<feed>
    # reports in its own step (one atomic write), one per feed.
    reported = set(order) - set(graph.materializable_asset_keys)
    assert reported == {key for key in graph.get_all_asset_keys() if key.path[0] == "quarantine"}
    assert len(reported) >= len(FEEDS)
    first = {key: order.index(key) for key in set(order)}
    last = {key: len(order) - 1 - order[::-1].index(key) for key in set(order)}
    too_early = sorted(
        f"{key.to_user_string()} before {parent.to_user_string()}"
        for key in first for parent in graph.get(key).parent_keys if parent in last and last[parent] > first[key]
    )
    assert too_early == []

    # The checks on the tables people read ran in the same run and pass on a normal demo day; so does
    # quarantine_rate (0.2 % malformed by design), which used to WARN on every feed.
    checks = [e.dagster_event.event_specific_data
              for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    checked = {c.asset_key.to_user_string() for c in checks}
    assert {"fraud/scored_transactions", "fraud/alerts", "credit/scores", "marts/alert_queue", "kpis/dq_score"} <= checked
    failed = sorted(f"{c.asset_key.to_user_string()}:{c.check_name}" for c in checks
                    if not c.passed and not c.check_name.startswith("referential_"))
    assert failed == []

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                             "WHERE table_type = 'BASE TABLE'").fetchall()
        # quality.dq_scores existed when the KPI and the mart that read it ran.
        assert con.execute("SELECT value FROM kpis.dq_score").fetchone()[0] is not None
        assert con.execute("SELECT count(*), sum(unaccounted_rows) FROM marts.data_quality_by_feed_day").fetchone() \
            == (len(FEEDS), 0)
    # Every table is an asset with its key; quarantine.<feed> is written by core/<feed> in the same transaction.
    keys = graph.get_all_asset_keys()
    without_key = sorted(f"{s}.{t}" for s, t in tables if dg.AssetKey([s, t]) not in keys and s != "quarantine")
    assert without_key == []
