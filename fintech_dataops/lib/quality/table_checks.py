"""Checks on the tables people read: fraud decisions, credit scores, marts and KPIs.

Each check is one SQL query that counts the rows breaking a rule (0 = passed), so what it tests
is readable in one line and the same query finds the offending rows by hand. ``severity`` says
what a failure means: ``ERROR`` a table that must not be used as is, ``WARN`` one worth a look.
The Dagster wiring (``defs/quality/table_checks.py``) evaluates every check of a table in one step,
after the table is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from fintech_dataops.lib.warehouse import table_exists
from fintech_dataops.schemas.dispositions import DISPOSITIONS

DECISIONS = ("approve", "review", "block")
CREDIT_BANDS = ("no_score", "poor", "fair", "good", "very_good", "exceptional")
LOAN_DECISIONS = ("approve", "decline", "manual_review")


@dataclass(frozen=True)
class TableCheck:
    table: str
    name: str
    description: str
    # SELECT count(*) of the rows that break the rule (or a function of the connection returning it,
    # for a rule over a source whose tables depend on the warehouse)
    violations_sql: str | Callable[[duckdb.DuckDBPyConnection], str]
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


def _scored_against_scorable(con: duckdb.DuckDBPyConnection) -> str:
    from fintech_dataops.lib.fraud.warehouse_io import scorable_transactions_sql  # what fraud scoring reads

    return ("SELECT count(*) FROM (SELECT CAST(partition_date AS DATE) AS day, count(*) AS n "
            "FROM fraud.scored_transactions GROUP BY 1) s LEFT JOIN (SELECT CAST(partition_date AS DATE) AS day, "
            f"count(*) AS n FROM ({scorable_transactions_sql(con)}) GROUP BY 1) c USING (day) "
            "WHERE s.n <> coalesce(c.n, 0)")


def _percentages(table: str, *columns: str) -> TableCheck:
    return TableCheck(table, "percent_ranges", f"{', '.join(columns)} are within [0, 100].",
                      f"SELECT count(*) FROM {table} WHERE " + " OR ".join(f"{c} NOT BETWEEN 0 AND 100" for c in columns))


def _one_kpi_row(name: str) -> list[TableCheck]:
    table = f"kpis.{name}"
    return [
        TableCheck(table, "one_row", f"{table} holds exactly one current row.",
                   f"SELECT abs(count(*) - 1) FROM {table}"),
        TableCheck(table, "value_or_reason", "The KPI has a value, or a note saying why it is not measured.",
                   f"SELECT count(*) FROM {table} WHERE value IS NULL AND coalesce(note, '') = ''"),
    ]


TABLE_CHECKS: list[TableCheck] = [
    # fraud: the decisions risk analysts act on, and the features they are made from
    _unique("fraud.features", "transaction_id"),
    _not_empty("fraud.scored_transactions", "every valid transaction is scored"),
    _unique("fraud.scored_transactions", "transaction_id"),
    TableCheck("fraud.scored_transactions", "decision_values", f"decision is one of {', '.join(DECISIONS)}.",
               f"SELECT count(*) FROM fraud.scored_transactions WHERE decision IS NULL OR decision NOT IN ({_in(DECISIONS)})"),
    TableCheck("fraud.scored_transactions", "score_ranges", "risk_score and model_score are within [0, 1].",
               "SELECT count(*) FROM fraud.scored_transactions WHERE risk_score IS NULL OR risk_score NOT BETWEEN 0 AND 1 "
               "OR (model_score IS NOT NULL AND model_score NOT BETWEEN 0 AND 1)"),
    TableCheck("fraud.scored_transactions", "every_core_transaction_scored",
               "Each scored day holds as many rows as the transactions fraud scores have for it (core.transactions "
               "and open-banking payments, inflows excepted): none missed, none extra.",
               _scored_against_scorable, also_reads=("core.transactions", "open_banking.platform_transactions")),
    _unique("fraud.alerts", "transaction_id"),
    TableCheck("fraud.alerts", "decision_values", "An alert is a review or a block.",
               "SELECT count(*) FROM fraud.alerts WHERE decision IS NULL OR decision NOT IN ('review', 'block')"),
    TableCheck("fraud.alerts", "alert_is_scored", "Every alert is a scored transaction with the same decision.",
               "SELECT count(*) FROM fraud.alerts a LEFT JOIN fraud.scored_transactions s USING (transaction_id) "
               "WHERE s.decision IS DISTINCT FROM a.decision", also_reads=("fraud.scored_transactions",)),
    TableCheck("fraud.evaluation", "unique_strategy_labels", "One row per strategy and label set.",
               "SELECT count(*) - count(DISTINCT (strategy, labels)) FROM fraud.evaluation"),
    TableCheck("fraud.evaluation", "rate_ranges", "False-positive rate, recall and precision are within [0, 1].",
               "SELECT count(*) FROM fraud.evaluation WHERE false_positive_rate NOT BETWEEN 0 AND 1 "
               "OR recall NOT BETWEEN 0 AND 1 OR precision NOT BETWEEN 0 AND 1"),
    # credit: what credit officers decide on
    _unique("credit.features", "customer_id"),
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
    _unique("credit.scorable_population", "run_id"),
    _percentages("credit.scorable_population", "scorable_traditional_pct", "scorable_enhanced_pct"),
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
    TableCheck("marts.scorable_population", "one_row", "marts.scorable_population holds exactly one row.",
               "SELECT abs(count(*) - 1) FROM marts.scorable_population"),
    _percentages("marts.scorable_population", "scorable_traditional_pct", "scorable_enhanced_pct"),
    TableCheck("marts.ledger_settlement", "unique_day_currency", "One row per business day and currency.",
               "SELECT count(*) - count(DISTINCT (business_date, currency)) FROM marts.ledger_settlement"),
    TableCheck("marts.ledger_settlement", "settled_within_booked",
               "No more entries or card volume settled than booked.",
               "SELECT count(*) FROM marts.ledger_settlement WHERE entries_settled > entries "
               "OR coalesce(card_volume_settled, 0) > coalesce(card_volume, 0)"),
    # the analysts' dispositions (labels the model trains on) and the scorecard's stability
    _unique("fraud.dispositions", "disposition_id"),
    TableCheck("fraud.dispositions", "disposition_values", f"disposition is one of {', '.join(DISPOSITIONS)}.",
               f"SELECT count(*) FROM fraud.dispositions WHERE disposition IS NULL OR disposition NOT IN "
               f"({_in(DISPOSITIONS)})"),
    TableCheck("fraud.dispositions", "one_current_per_transaction",
               "Each closed transaction has exactly one current disposition (the label training reads).",
               "SELECT count(*) FROM (SELECT transaction_id FROM fraud.dispositions GROUP BY 1 "
               "HAVING count(*) FILTER (WHERE is_current) <> 1)"),
    TableCheck("fraud.dispositions", "closed_after_alerted", "No case is closed before its alert was raised.",
               "SELECT count(*) FROM fraud.dispositions WHERE time_to_disposition_s < 0", "WARN"),
    TableCheck("credit.stability", "psi_readable",
               "Every variable has a PSI >= 0 and its reading (ok / warn / error).",
               "SELECT count(*) FROM credit.stability WHERE psi IS NULL OR psi < 0 "
               "OR severity NOT IN ('ok', 'warn', 'error')"),
    TableCheck("credit.stability", "one_row_per_variable_and_run", "One PSI per variable per scoring run.",
               "SELECT count(*) - count(DISTINCT (scored_at, variable)) FROM credit.stability"),
    # KPIs: what the monitor shows
    TableCheck("kpis.history", "unique_run_kpi", "Each run records each KPI once.",
               "SELECT count(*) - count(DISTINCT (run_id, kpi)) FROM kpis.history"),
    *(check for name in ("dq_score", "freshness", "ingest_rate", "latency", "scorable_uplift",
                         "value_at_risk_protected", "analyst_precision") for check in _one_kpi_row(name)),
    _percentages("kpis.analyst_precision", "value"),
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
        sql = check.violations_sql(con) if callable(check.violations_sql) else check.violations_sql
        violations = con.execute(sql).fetchone()[0]
        outcomes.append(TableCheckOutcome(check, int(rows), int(violations or 0)))
    return outcomes
