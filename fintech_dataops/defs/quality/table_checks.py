"""Asset checks on the tables people read (fraud, credit, marts, KPIs): one step per table.

The rules are SQL in ``lib/quality/table_checks.py``; each table's checks run together after it is
written, on a read-only connection (a check never takes the writer's lock).
"""

import dagster as dg

from fintech_dataops.defs.resources import WarehouseResource
from fintech_dataops.lib.quality.table_checks import TableCheck, checks_by_table


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


def build_table_checks(table: str, checks: list[TableCheck]) -> dg.AssetChecksDefinition:
    key = _key(table)

    @dg.multi_asset_check(
        name=f"{table.replace('.', '__')}__checks",
        specs=[
            dg.AssetCheckSpec(check.name, asset=key, description=check.description,
                              additional_deps=[_key(t) for t in check.also_reads])
            for check in checks
        ],
    )
    def table_checks(warehouse: WarehouseResource):
        from fintech_dataops.lib.quality.table_checks import run_table_checks

        with warehouse.read_connection() as con:
            outcomes = run_table_checks(con, checks)
        for outcome in outcomes:
            check = outcome.check
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=check.name,
                passed=outcome.passed,
                severity=dg.AssetCheckSeverity.ERROR if check.severity == "ERROR" else dg.AssetCheckSeverity.WARN,
                description=None if outcome.passed else
                f"{table} does not exist" if outcome.missing_table else
                f"{outcome.violations:,} violation(s) of: {check.description}",
                metadata={"rows": outcome.rows, "violations": outcome.violations,
                          "query": dg.MetadataValue.md(f"```sql\n{check.violations_sql}\n```")},
            )

    return table_checks


def build_all_table_checks() -> list[dg.AssetChecksDefinition]:
    return [build_table_checks(table, checks) for table, checks in checks_by_table().items()]
