"""Core assets through Dagster: checks, DQ metadata, blocking checks stop downstream, freshness."""

import json
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb

from fintech_dataops.defs.ingestion.assets import raw_assets
from fintech_dataops.defs.partitions import daily_partitions
from fintech_dataops.defs.quality.assets import build_core_asset
from fintech_dataops.defs.money_resource import MoneyResource
from fintech_dataops.defs.resources import WarehouseResource
from fintech_dataops.defs.quality.checks import build_referential_checks
from fintech_dataops.defs.quality.dq_scores import build_dq_scores_asset
from fintech_dataops.defs.quality.freshness import DAILY_FRESHNESS, with_platform_freshness
from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.feeds import FEEDS

DAY = "2026-10-01"
GOOD = {
    "transaction_id": "T1", "customer_id": "C1", "merchant_id": "M1", "amount": 12.5, "currency": "USD",
    "event_time": "2026-10-01T10:00:00Z", "channel": "ecommerce", "merchant_category": "grocery",
    "country": "US", "device_id": "D1",
}
RAW = next(a for a in raw_assets if a.key == dg.AssetKey(["raw", "transactions"]))
CORE = build_core_asset(FEEDS["transactions"])
REFERENTIAL = build_referential_checks(FEEDS["transactions"])


def land_day(landing_dir: Path, good: int, bad: int) -> None:
    lines = [json.dumps({**GOOD, "transaction_id": f"T{i}"}) for i in range(good)] + ["{broken"] * bad
    landing.land_lines(landing_dir, "transactions", DAY, "b1", lines)


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_core_asset_writes_core_and_quarantine_and_reports_dq(data_dir, landing_dir, resources):
    land_day(landing_dir, good=90, bad=10)
    result = dg.materialize([RAW, CORE, *REFERENTIAL, build_dq_scores_asset(["transactions"])],
                            resources=resources, partition_key=DAY)
    assert result.success
    metadata = result.asset_materializations_for_node("core__transactions")[0].metadata
    assert metadata["dq_score"].value == 90.0
    assert metadata["dagster/row_count"].value == 90
    assert metadata["quarantined_rows"].value == 10
    checks = evaluations(result)
    assert checks["schema"].passed and checks["reconciliation"].passed
    assert not checks["quarantine_rate"].passed
    assert checks["quarantine_rate"].severity == dg.AssetCheckSeverity.ERROR  # 10 % of the day > the 5 % default
    # no customers loaded: the referential check warns, it never quarantines
    assert not checks["referential_customer_id"].passed
    assert checks["referential_customer_id"].severity == dg.AssetCheckSeverity.WARN
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM core.transactions").fetchone()[0] == 90
        assert con.execute("SELECT DISTINCT reason FROM quarantine.transactions").fetchall() == [("invalid JSON",)]
        assert con.execute("SELECT dq_score FROM quality.dq_scores").fetchone()[0] == 90.0


def test_quarantine_thresholds_are_configurable(data_dir, landing_dir, resources):
    land_day(landing_dir, good=99, bad=1)
    config = dg.RunConfig(ops={"core__transactions": {"config": {
        "quarantine_warn_rate": 0.005, "quarantine_error_rate": 0.02, "quarantine_min_lines": 1}}})
    result = dg.materialize([RAW, CORE], resources=resources, partition_key=DAY, run_config=config)
    check = evaluations(result)["quarantine_rate"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN  # 1 %: above 0.5 %, below 2 %
    assert check.metadata["quarantine_rate"].value == 0.01


def test_failed_blocking_check_stops_downstream_assets(data_dir, landing_dir, resources):
    land_day(landing_dir, good=5, bad=0)
    # A stored core table whose column type drifted (an older release typed amount as text).
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA core")
        columns = ", ".join(
            f'"{name}" {"VARCHAR" if name == "amount" else typ}' for name, typ in FEEDS["transactions"].core_types.items()
        )
        con.execute(f"CREATE TABLE core.transactions ({columns}, partition_date DATE, source_file VARCHAR, line_number BIGINT)")
    consumed = []

    @dg.asset(key=["fraud", "uses_transactions"], deps=[CORE.key], partitions_def=daily_partitions,
              backfill_policy=dg.BackfillPolicy.single_run())
    def downstream(context: dg.AssetExecutionContext):
        consumed.append(context.partition_key)

    result = dg.materialize([RAW, CORE, downstream], resources=resources, partition_key=DAY, raise_on_error=False)
    assert not result.success
    check = evaluations(result)["schema"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    summary = check.metadata["failure_summary"].value
    assert summary[0]["check"] == "column_type" and summary[0]["column"] == "amount"
    assert consumed == []
    assert not result.asset_materializations_for_node("fraud__uses_transactions")


def test_passing_checks_let_downstream_run(data_dir, landing_dir, resources):
    land_day(landing_dir, good=5, bad=0)
    consumed = []

    @dg.asset(key=["fraud", "uses_transactions"], deps=[CORE.key], partitions_def=daily_partitions,
              backfill_policy=dg.BackfillPolicy.single_run())
    def downstream(context: dg.AssetExecutionContext):
        consumed.append(context.partition_key)

    result = dg.materialize([RAW, CORE, downstream], resources=resources, partition_key=DAY)
    assert result.success and consumed == [DAY]


def test_core_assets_document_their_columns_and_checks():
    spec = next(iter(CORE.specs))
    schema = spec.metadata["dagster/column_schema"]
    names = [c.name for c in schema.columns]
    assert names == [*FEEDS["transactions"].fields, "partition_date", "source_file", "line_number", "amount_reporting"]
    assert all(c.description for c in schema.columns)
    assert spec.group_name == "quality" and set(spec.kinds) == {"duckdb", "pandas"}
    assert {c.name for c in CORE.check_specs} == {"schema", "reconciliation", "quarantine_rate"}
    (referential,) = REFERENTIAL
    assert [k.name for k in referential.check_keys] == ["referential_customer_id"]
    assert all(c.blocking for c in CORE.check_specs if c.name in {"schema", "reconciliation"})


def test_freshness_policies_apply_by_layer_to_any_domain():
    @dg.asset(key=["fraud", "scores"])
    def scores(): ...

    @dg.asset(key=["marts", "report"])
    def report(): ...

    own = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=2))

    @dg.asset(key=["credit", "scores"], freshness_policy=own)
    def credit_scores(): ...

    defs = with_platform_freshness(
        dg.Definitions(assets=[scores, report, credit_scores, CORE], resources={"warehouse": WarehouseResource(), "money": MoneyResource()})
    )
    policies = {s.key.to_user_string(): s.freshness_policy for s in defs.resolve_all_asset_specs()}
    assert policies["fraud/scores"] == DAILY_FRESHNESS
    assert policies["core/transactions"] == DAILY_FRESHNESS
    assert policies["marts/report"] == DAILY_FRESHNESS
    assert policies["credit/scores"] == own  # an asset's own policy wins


def test_a_day_range_runs_in_one_step_with_per_day_scores(data_dir, landing_dir, resources):
    land_day(landing_dir, good=3, bad=1)
    landing.land_lines(landing_dir, "transactions", "2026-10-02", "b1", [json.dumps({**GOOD, "transaction_id": "T9"})])
    tags = {"dagster/asset_partition_range_start": DAY, "dagster/asset_partition_range_end": "2026-10-02"}
    result = dg.materialize([RAW, CORE], resources=resources, tags=tags)
    assert result.success
    metadata = result.asset_materializations_for_node("core__transactions")[0].metadata
    assert metadata["dq_score_per_day"].value == {DAY: 75.0, "2026-10-02": 100.0}
    # a total over the range is not reported as each day's value (Dagster puts it on every partition)
    assert "dq_score" not in metadata and "dagster/row_count" not in metadata
    assert metadata["dq_score_over_range"].value == 80.0 and metadata["row_count_over_range"].value == 4
    assert evaluations(result)["reconciliation"].metadata["raw_rows"].value == 5


def test_referential_check_runs_after_the_parent_loaded_in_the_same_run(data_dir, landing_dir, resources):
    land_day(landing_dir, good=2, bad=0)
    customer = {
        "customer_id": "C1", "full_name": "Ada Lovelace", "email": "ada@example.com", "country": "GB",
        "birth_year": 1990, "signup_time": "2026-09-01T00:00:00Z", "declared_monthly_income": 4000.0,
        "segment": "mass",
    }
    landing.land_lines(landing_dir, "customers", DAY, "b1", [json.dumps(customer)])
    raw_customers = next(a for a in raw_assets if a.key == dg.AssetKey(["raw", "customers"]))
    core_customers = build_core_asset(FEEDS["customers"])
    result = dg.materialize(
        [RAW, raw_customers, CORE, core_customers, *REFERENTIAL], resources=resources, partition_key=DAY
    )
    check = evaluations(result)["referential_customer_id"]
    assert check.passed, check.description
    assert check.metadata["rows"].value == 2
