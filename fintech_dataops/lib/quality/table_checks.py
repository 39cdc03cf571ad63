"""Checks on the tables people read: fraud decisions, credit scores, marts and KPIs.

Each check is one SQL query that counts the rows breaking a rule (0 = passed), so what it tests
is readable in one line and the same query finds the offending rows by hand. ``severity`` says
what a failure means: ``ERROR`` a table that must not be used as is, ``WARN`` one worth a look.
The Dagster wiring (``defs/quality/table_checks.py``) evaluates every check of a table in one step,
after the table is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from fintech_dataops.lib.warehouse import table_exists

DECISIONS = ("approve", "review", "block")
CREDIT_BANDS = ("no_score", "poor", "fair", "good", "very_good", "exceptional")
LOAN_DECISIONS = ("approve", "decline", "manual_review")


@dataclass(frozen=True)
class TableCheck:
    table: str
    name: str
    description: str
    violations_sql: str        # SELECT count(*) of the rows that break the rule
    severity: str = "ERROR"    # ERROR or WARN
    also_reads: tuple[str, ...] = ()   # other tables the rule compares with


@dataclass(frozen=True)
class TableCheckOutcome:
    check: TableCheck
    rows: int
    violations: int
    missing_table: bool = False

    @property
    def passed(self) -> bool:
        return not self.missing_table and self.violations == 0


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _unique(table: str, column: str) -> TableCheck:
    return TableCheck(table, f"unique_{column}", f"Every {column} appears once in {table}.",
                      f"SELECT count(*) - count(DISTINCT {column}) FROM {table}")


def _not_empty(table: str, what: str, severity: str = "WARN") -> TableCheck:
    return TableCheck(table, "not_empty", f"{table} has at least one row ({what}).",
                      f"SELECT CASE WHEN count(*) = 0 THEN 1 ELSE 0 END FROM {table}", severity)


def _one_kpi_row(name: str) -> list[TableCheck]:
    table = f"kpis.{name}"
    return [
        TableCheck(table, "one_row", f"{table} holds exactly one current row.",
                   f"SELECT abs(count(*) - 1) FROM {table}"),
        TableCheck(table, "value_or_reason", "The KPI has a value, or a note saying why it is not measured.",
                   f"SELECT count(*) FROM {table} WHERE value IS NULL AND coalesce(note, '') = ''"),
    ]


TABLE_CHECKS: list[TableCheck] = [
    # fraud: the decisions risk analysts act on
    _not_empty("fraud.scored_transactions", "every valid transaction is scored"),
    _unique("fraud.scored_transactions", "transaction_id"),
    TableCheck("fraud.scored_transactions", "decision_values", f"decision is one of {', '.join(DECISIONS)}.",
               f"SELECT count(*) FROM fraud.scored_transactions WHERE decision IS NULL OR decision NOT IN ({_in(DECISIONS)})"),
    TableCheck("fraud.scored_transactions", "score_ranges", "risk_score and model_score are within [0, 1].",
               "SELECT count(*) FROM fraud.scored_transactions WHERE risk_score IS NULL OR risk_score NOT BETWEEN 0 AND 1 "
               "OR (model_score IS NOT NULL AND model_score NOT BETWEEN 0 AND 1)"),
    TableCheck("fraud.scored_transactions", "every_core_transaction_scored",
               "Each scored day holds as many rows as core.transactions has for it (none missed, none extra).",
               "SELECT count(*) FROM (SELECT CAST(partition_date AS DATE) AS day, count(*) AS n "
               "FROM fraud.scored_transactions GROUP BY 1) s LEFT JOIN (SELECT partition_date AS day, count(*) AS n "
               "FROM core.transactions GROUP BY 1) c USING (day) WHERE s.n <> coalesce(c.n, 0)",
               also_reads=("core.transactions",)),
    _unique("fraud.alerts", "transaction_id"),
    TableCheck("fraud.alerts", "decision_values", "An alert is a review or a block.",
               "SELECT count(*) FROM fraud.alerts WHERE decision IS NULL OR decision NOT IN ('review', 'block')"),
    TableCheck("fraud.alerts", "alert_is_scored", "Every alert is a scored transaction with the same decision.",
               "SELECT count(*) FROM fraud.alerts a LEFT JOIN fraud.scored_transactions s USING (transaction_id) "
               "WHERE s.decision IS DISTINCT FROM a.decision", also_reads=("fraud.scored_transactions",)),
    # credit: what credit officers decide on
    _not_empty("credit.scores", "every customer gets a row", severity="ERROR"),
    _unique("credit.scores", "customer_id"),
    TableCheck("credit.scores", "score_range", "A score is within 300-850 (or absent, band no_score).",
               "SELECT count(*) FROM credit.scores WHERE (score IS NOT NULL AND score NOT BETWEEN 300 AND 850) "
               "OR (score IS NULL) <> (band = 'no_score')"),
    TableCheck("credit.scores", "band_values", f"band is one of {', '.join(CREDIT_BANDS)}.",
               f"SELECT count(*) FROM credit.scores WHERE band IS NULL OR band NOT IN ({_in(CREDIT_BANDS)})"),
    _unique("credit.loan_decisions", "application_id"),
    TableCheck("credit.loan_decisions", "decision_values", f"decision is one of {', '.join(LOAN_DECISIONS)}.",
               f"SELECT count(*) FROM credit.loan_decisions WHERE decision IS NULL OR decision NOT IN ({_in(LOAN_DECISIONS)})"),
    # marts: what people query
    TableCheck("marts.data_quality_by_feed_day", "nothing_unaccounted",
               "Every received line is valid or quarantined (raw = core + quarantine per feed and day).",
               "SELECT count(*) FROM marts.data_quality_by_feed_day WHERE unaccounted_rows <> 0"),
    TableCheck("marts.data_quality_by_feed_day", "unique_feed_day", "One row per feed and day.",
               "SELECT count(*) - count(DISTINCT (feed, partition_date)) FROM marts.data_quality_by_feed_day"),
    _unique("marts.alert_queue", "transaction_id"),
    _unique("marts.daily_fraud_summary", "partition_date"),
    TableCheck("marts.daily_fraud_summary", "alert_rate_range", "alert_rate_pct is within [0, 100].",
               "SELECT count(*) FROM marts.daily_fraud_summary WHERE alert_rate_pct NOT BETWEEN 0 AND 100"),
    _unique("marts.credit_portfolio_by_band", "band"),
    TableCheck("marts.credit_portfolio_by_band", "score_range", "Band scores are within 300-850.",
               "SELECT count(*) FROM marts.credit_portfolio_by_band WHERE min_score NOT BETWEEN 300 AND 850 "
               "OR max_score NOT BETWEEN 300 AND 850"),
    # KPIs: what the monitor shows
    *(check for name in ("dq_score", "freshness", "ingest_rate", "latency", "scorable_uplift",
                         "value_at_risk_protected") for check in _one_kpi_row(name)),
]


def checks_by_table() -> dict[str, list[TableCheck]]:
    tables: dict[str, list[TableCheck]] = {}
    for check in TABLE_CHECKS:
        tables.setdefault(check.table, []).append(check)
    return tables


def run_table_checks(con: duckdb.DuckDBPyConnection, checks: list[TableCheck]) -> list[TableCheckOutcome]:
    """Evaluate ``checks`` (read-only). A missing table fails every check on it: it was not written."""
    outcomes = []
    for check in checks:
        if not table_exists(con, check.table):
            outcomes.append(TableCheckOutcome(check, 0, 0, missing_table=True))
            continue
        rows = con.execute(f"SELECT count(*) FROM {check.table}").fetchone()[0]
        violations = con.execute(check.violations_sql).fetchone()[0]
        outcomes.append(TableCheckOutcome(check, int(rows), int(violations or 0)))
    return outcomes
