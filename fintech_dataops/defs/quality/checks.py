"""The asset checks of a core table, evaluated right after each write (they re-read what was stored).

- ``schema`` (blocking): the stored partitions pass the full pandera contract;
- ``reconciliation`` (blocking): ``count(raw) = count(core) + count(quarantine)`` per partition;
- ``quarantine_rate``, per day: WARN above 1 %, ERROR above 5 % of a day's lines quarantined, on days with
  at least 10 quarantined lines (``QuarantineThresholds`` in ``lib/quality/core_checks.py``; run config);
- ``referential_<column>`` (WARN, separate checks that run after the parent table): the row's parent
  (customer, transaction, ...) is known in core.

Blocking ERROR failures stop downstream assets in the same run (fraud/credit never read a failed
table); the core/quarantine rows stay stored, so the failure can be inspected.
"""

import dagster as dg
import duckdb

from fintech_dataops.defs.resources import WarehouseResource
from fintech_dataops.lib.ingestion.feeds import Feed
from fintech_dataops.lib.quality.core_checks import QuarantineThresholds
from fintech_dataops.schemas.references import REFERENCES

SCHEMA_CHECK = "schema"
RECONCILIATION_CHECK = "reconciliation"
QUARANTINE_RATE_CHECK = "quarantine_rate"


def referential_check_name(column: str) -> str:
    return f"referential_{column}"


def core_check_specs(feed: Feed, asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(SCHEMA_CHECK, asset=asset_key, blocking=True,
                          description="Stored partitions pass the full pandera contract (ids unique across partitions)."),
        dg.AssetCheckSpec(RECONCILIATION_CHECK, asset=asset_key, blocking=True,
                          description="count(raw) = count(core) + count(quarantine) for every partition written."),
        dg.AssetCheckSpec(QUARANTINE_RATE_CHECK, asset=asset_key,
                          description="Share of each day's raw lines quarantined: WARN above the warn rate, ERROR "
                                      "above the error rate (days with at least min_lines quarantined)."),
    ]
    return specs


def _schema_result(con: duckdb.DuckDBPyConnection, feed: Feed, days: list[str]) -> dg.AssetCheckResult:
    from fintech_dataops.lib.quality.core_checks import revalidate_core

    outcome = revalidate_core(con, feed.name, days)
    return dg.AssetCheckResult(
        check_name=SCHEMA_CHECK,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if outcome.passed else
        f"{outcome.failures} failure case(s) in the stored rows of core.{feed.name}",
        metadata={
            "rows_validated": outcome.rows,
            "failure_cases": outcome.failures,
            "failure_summary": dg.MetadataValue.json(outcome.failure_summary),
        },
    )


def _reconciliation_result(con: duckdb.DuckDBPyConnection, feed: Feed, days: list[str]) -> dg.AssetCheckResult:
    from fintech_dataops.lib.quality.core_checks import reconcile

    rows = reconcile(con, feed.name, days)
    unbalanced = [r for r in rows if not r.balanced]
    return dg.AssetCheckResult(
        check_name=RECONCILIATION_CHECK,
        passed=not unbalanced,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if not unbalanced else "raw ≠ core + quarantine on " + ", ".join(r.day for r in unbalanced),
        metadata={
            "raw_rows": sum(r.raw for r in rows),
            "core_rows": sum(r.core for r in rows),
            "quarantine_rows": sum(r.quarantine for r in rows),
            "unbalanced_partitions": dg.MetadataValue.json(
                [{"day": r.day, "raw": r.raw, "core": r.core, "quarantine": r.quarantine} for r in unbalanced]
            ),
        },
    )


def _quarantine_rate_result(con: duckdb.DuckDBPyConnection, feed: Feed, days: list[str],
                            thresholds: QuarantineThresholds) -> dg.AssetCheckResult:
    from fintech_dataops.lib.quality.core_checks import judge_quarantine_days

    judged = judge_quarantine_days(con, feed.name, days, thresholds)
    raw = sum(d.raw_rows for d in judged.days)
    quarantined = sum(d.quarantined_rows for d in judged.days)
    worst = judged.worst
    breaches = judged.error_days or judged.warn_days
    return dg.AssetCheckResult(
        check_name=QUARANTINE_RATE_CHECK,
        passed=not judged.warn_days,
        severity=dg.AssetCheckSeverity.ERROR if judged.error_days else dg.AssetCheckSeverity.WARN,
        description=None if not breaches else
        f"{len(breaches)} day(s) above {thresholds.error_rate if judged.error_days else thresholds.warn_rate:.1%} "
        f"quarantined; worst {worst.day}: {worst.quarantined_rows:,} of {worst.raw_rows:,} lines ({worst.rate:.2%})",
        metadata={
            "quarantine_rate": float(quarantined / raw if raw else 0.0), "raw_rows": raw, "quarantined_rows": quarantined,
            "worst_day": worst.day if worst else None, "worst_day_rate": float(worst.rate) if worst else 0.0,
            "days_above_warn_rate": dg.MetadataValue.json([d.day for d in judged.warn_days]),
            "warn_rate": thresholds.warn_rate, "error_rate": thresholds.error_rate, "min_lines": thresholds.min_lines,
        },
    )


def build_referential_checks(feed: Feed) -> list[dg.AssetChecksDefinition]:
    """WARN checks, one per declared reference: rows of ``core.<feed>`` whose parent is unknown.

    Separate checks (not evaluated inside the core asset) that depend on the parent table, so in a
    run that loads both, the parent is written first and the check does not warn about rows whose
    parent arrives in the same run. They look at the whole table: events may wait days for master data.
    """
    return [_referential_check(feed, column, parent) for column, parent, _ in REFERENCES.get(feed.name, ())]


def _referential_check(feed: Feed, column: str, parent: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["core", feed.name]),
        name=referential_check_name(column),
        additional_deps=[dg.AssetKey(parent.split("."))],
        description=f"{column} is known in {parent} (WARN: events may arrive before master data).",
    )
    def referential(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        from fintech_dataops.lib.quality.core_checks import referential_orphans

        if warehouse.is_local_file and not warehouse.path.exists():
            return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN,
                                       description="no warehouse yet: nothing to check", metadata={"rows": 0})
        with warehouse.read_connection() as con:  # a check only reads: never take the writer's lock
            found = next(o for o in referential_orphans(con, feed.name) if o.column == column)
        return dg.AssetCheckResult(
            passed=found.orphans == 0,
            severity=dg.AssetCheckSeverity.WARN,
            description=None if found.orphans == 0 else
            f"{found.orphans:,} of {found.rows:,} rows have a {found.column} unknown in {found.parent}",
            metadata={"orphan_rows": found.orphans, "rows": found.rows, "examples": dg.MetadataValue.json(found.examples)},
        )

    return referential


def unpartitioned_core_events(con: duckdb.DuckDBPyConnection, feed: Feed, asset_key: dg.AssetKey, result,
                              thresholds: QuarantineThresholds | None = None,
                              ) -> list[dg.MaterializeResult | dg.AssetCheckResult]:
    """What an unpartitioned core asset (every landed day of an API-pulled feed) reports: its load
    (``lib.quality.core_gate.QualityResult``) and its core checks, which hold vacuously when nothing landed yet."""
    checks = evaluate_core_checks(con, feed, result.partition_dates, thresholds) if result.partition_dates else [
        dg.AssetCheckResult(check_name=spec.name, passed=True, metadata={"rows": 0})
        for spec in core_check_specs(feed, asset_key)]
    return [dg.MaterializeResult(metadata={
        "dagster/row_count": result.valid_rows, "raw_rows": result.raw_rows,
        "quarantined_rows": result.quarantined_rows, "dq_score": float(result.dq_score),
        "failed_checks": dg.MetadataValue.json(result.failed_checks),
    }), *checks]


def evaluate_core_checks(con: duckdb.DuckDBPyConnection, feed: Feed, days: list[str],
                         thresholds: QuarantineThresholds | None = None) -> list[dg.AssetCheckResult]:
    return [
        _schema_result(con, feed, days),
        _reconciliation_result(con, feed, days),
        _quarantine_rate_result(con, feed, days, thresholds or QuarantineThresholds()),
    ]
