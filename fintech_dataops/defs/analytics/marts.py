"""Marts: one asset ``["marts", <name>]`` per ``fintech_dataops/marts/<name>.sql``.

Upstream keys come from the tables the SQL reads (``schema.table`` → ``[schema, table]``),
so adding a file is adding an asset with the right lineage. A mart whose source
table is not built yet is skipped with a warning naming the missing tables (no
materialization is recorded), instead of failing the run with a catalog error.
"""

from pathlib import Path

import dagster as dg

from fintech_dataops.defs.automation import ON_INPUT_CHANGE
from fintech_dataops.defs.catalog import table_key
from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL
from fintech_dataops.defs.resources import WarehouseResource
from fintech_dataops.lib.analytics.marts import MARTS_DIR, MartSpec, build_mart, discover_marts


def upstream_keys(tables) -> list[dg.AssetKey]:
    """``schema.table`` → ``AssetKey([schema, table])``: every table the SQL reads is a dependency, so a mart
    never runs before its sources (``fintech_dataops_tests/defs/test_catalog.py`` checks each is an asset)."""
    return [table_key(table) for table in tables]


def build_mart_asset(spec: MartSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=["marts", spec.name],
        deps=upstream_keys(spec.sources),
        group_name="analytics",
        kinds={"duckdb", "sql"},
        pool=WAREHOUSE_WRITE_POOL,
        description=spec.description,
        output_required=False,
        automation_condition=ON_INPUT_CHANGE,
        metadata={"dagster/table_name": spec.table, "sql_file": f"marts/{spec.path.name}",
                  "sql": dg.MetadataValue.md(f"```sql\n{spec.sql}\n```")},
    )
    def mart(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.get_connection() as con:
            result = build_mart(con, spec)
        if not result.built:
            context.log.warning(
                f"skipped {spec.table}: its source table(s) {', '.join(result.missing_sources)} do not exist yet "
                f"(materialize them first); {spec.path.name} reads {', '.join(spec.sources)}"
            )
            return
        context.log.info(f"{spec.table}: {result.rows} rows in {result.seconds:.2f}s")
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": result.rows,
            "seconds": round(result.seconds, 3),
            "preview": dg.MetadataValue.md(result.preview_markdown),
        })

    return mart


def build_mart_assets(folder: Path = MARTS_DIR) -> list[dg.AssetsDefinition]:
    return [build_mart_asset(spec) for spec in discover_marts(folder)]
