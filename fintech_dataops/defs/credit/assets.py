"""Credit scoring v2.0: features → scores (+ scorable population) → loan decisions, validation.

Portfolio-level (unpartitioned) assets over the core tables. They recompute
when an input changes (``ON_INPUT_CHANGE``, run by ``automation_sensor``: their one
trigger); ``credit_scoring`` reruns them by hand, e.g. with other weights. Weights,
scorability rules and the cutoff are run config (``CreditScoringConfig``);
business rules live in ``lib/credit``.
"""

import time
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from fintech_dataops.defs.automation import ON_INPUT_CHANGE
from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.lib.credit.config import DEFAULT_WEIGHTS, MODEL_VERSION, ScoringConfig

FEATURE_FEEDS = ("customers", "transactions", "public_records", "partner_loans", "utility_payments", "telco_payments")
CREDIT_AUTOMATION = ON_INPUT_CHANGE
# Domains that read credit.* themselves (importing them here would be circular).
_DOWNSTREAM_DOMAINS = ("fintech_dataops.defs.analytics", "fintech_dataops.defs.credit")


def upstream_keys() -> set[dg.AssetKey]:
    """Asset keys the upstream domains define (core.*, open_banking.*, ...).

    Credit depends on the ones that exist: a core table no asset produces yet is
    read if present and treated as an empty source otherwise (lib/credit/features).
    """
    from fintech_dataops.defs import domain_asset_keys

    return domain_asset_keys(exclude=_DOWNSTREAM_DOMAINS)


_UPSTREAM = upstream_keys()


def _deps(*keys: dg.AssetKey) -> list[dg.AssetKey]:
    return [key for key in keys if key in _UPSTREAM]


TRANSACTION_KEYS = (dg.AssetKey(["core", "transactions"]), dg.AssetKey(["open_banking", "platform_transactions"]))


class CreditScoringConfig(dg.Config):
    """What a credit officer tunes; the defaults are the v2.0 policy."""

    weight_transaction_history: float = Field(default=DEFAULT_WEIGHTS["transaction_history"], ge=0)
    weight_spending_power: float = Field(default=DEFAULT_WEIGHTS["spending_power"], ge=0)
    weight_academic: float = Field(default=DEFAULT_WEIGHTS["academic"], ge=0)
    weight_loan_history: float = Field(default=DEFAULT_WEIGHTS["loan_history"], ge=0)
    weight_utilities: float = Field(default=DEFAULT_WEIGHTS["utilities"], ge=0)
    weight_telco: float = Field(default=DEFAULT_WEIGHTS["telco"], ge=0)
    approve_cutoff: int = Field(default=ScoringConfig.approve_cutoff, ge=300, le=850,
                                description="Scores at or above are approved")
    manual_review_margin: int = Field(default=ScoringConfig.manual_review_margin, ge=0,
                                      description="[cutoff - margin, cutoff) goes to manual review")
    max_request_to_monthly_income: float = Field(default=ScoringConfig.max_request_to_monthly_income, gt=0)
    traditional_min_history_days: int = Field(default=ScoringConfig.traditional_min_history_days, ge=0)
    enhanced_min_sources: int = Field(default=ScoringConfig.enhanced_min_sources, ge=1)
    enhanced_min_evidence: float = Field(default=ScoringConfig.enhanced_min_evidence, ge=0, le=1)
    max_reasons: int = Field(default=ScoringConfig.max_reasons, ge=0, le=10)

    def scoring_config(self) -> ScoringConfig:
        weights = {name: getattr(self, f"weight_{name}") for name in DEFAULT_WEIGHTS}
        return ScoringConfig(
            weights=weights, approve_cutoff=self.approve_cutoff, manual_review_margin=self.manual_review_margin,
            max_request_to_monthly_income=self.max_request_to_monthly_income,
            traditional_min_history_days=self.traditional_min_history_days,
            enhanced_min_sources=self.enhanced_min_sources, enhanced_min_evidence=self.enhanced_min_evidence,
            max_reasons=self.max_reasons,
        ).validated()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _preview(con, sql: str, limit: int = 10) -> str:
    cursor = con.execute(f"SELECT * FROM ({sql}) LIMIT {limit}")
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join("" if v is None else str(v)[:60] for v in row) + " |" for row in rows]
    return "\n".join(lines)


@dg.asset(
    key=["credit", "features"],
    deps=_deps(*(dg.AssetKey(["core", feed]) for feed in FEATURE_FEEDS), *TRANSACTION_KEYS),
    group_name="credit",
    kinds={"duckdb"},
    pool=WAREHOUSE_WRITE_POOL,
    automation_condition=CREDIT_AUTOMATION,
    description="Per-customer credit features from the core tables (each source aggregated per customer, "
                "then joined: a missing record is a missing feature, never a broken row).",
    metadata={"dagster/table_name": "credit.features"},
)
def credit_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from fintech_dataops.lib.credit.features import default_as_of, features_sql
    from fintech_dataops.lib.warehouse import replace_table

    started = time.perf_counter()
    with warehouse.get_connection() as con:
        as_of = default_as_of(con)
        rows = replace_table(con, "credit.features", features_sql(con), {"as_of": as_of, "customer_id": None})
        preview = _preview(con, "SELECT customer_id, tenure_days, tx_count, academic_score, loan_reports, "
                                "utility_bills, telco_bills FROM credit.features")
    seconds = time.perf_counter() - started
    context.log.info(f"credit.features: {rows:,} customers as of {as_of} in {seconds:.2f}s")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows, "as_of": str(as_of), "seconds": round(seconds, 3),
        "preview": dg.MetadataValue.md(preview),
    })


@dg.asset(
    key=["credit", "scores"],
    deps=[credit_features],
    group_name="credit",
    kinds={"duckdb", "pandas"},
    pool=WAREHOUSE_WRITE_POOL,
    automation_condition=CREDIT_AUTOMATION,
    description="Score 300-850 per customer: six weighted components (missing ones re-weighted), evidence, "
                "band, traditional vs enhanced scorability and up to four reason codes.",
    metadata={"dagster/table_name": "credit.scores", "model_version": MODEL_VERSION},
)
def credit_scores(context: dg.AssetExecutionContext, config: CreditScoringConfig, warehouse: WarehouseResource):
    from fintech_dataops.lib.credit.scoring import score_portfolio, scores_select
    from fintech_dataops.lib.warehouse import replace_table

    scoring = config.scoring_config()
    started = time.perf_counter()
    with warehouse.get_connection() as con:
        features = con.execute("SELECT * FROM credit.features").df()
        scored = score_portfolio(features, scoring)
        score_seconds = time.perf_counter() - started
        con.register("credit_scored_frame", scored)
        sql, params = scores_select("credit_scored_frame", _now(), scoring.max_reasons)
        rows = replace_table(con, "credit.scores", sql, params)
        con.unregister("credit_scored_frame")
        bands = dict(con.execute("SELECT band, count(*) FROM credit.scores GROUP BY 1 ORDER BY 1").fetchall())
        summary = con.execute(
            "SELECT avg(score), count(*) FILTER (WHERE scorable_traditional), "
            "count(*) FILTER (WHERE scorable_enhanced), avg(evidence) FROM credit.scores"
        ).fetchall()[0]
        preview = _preview(con, "SELECT customer_id, score, band, evidence, scorable_traditional, "
                                "scorable_enhanced, reasons[1].code AS top_reason FROM credit.scores")
    seconds = time.perf_counter() - started
    context.log.info(f"credit.scores: {rows:,} customers scored in {score_seconds:.2f}s (written in {seconds:.2f}s)")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "model_version": scoring.model_version,
        "weights": dg.MetadataValue.json(dict(scoring.weights)),
        "mean_score": round(float(summary[0] or 0), 1),
        "customers_by_band": dg.MetadataValue.json(bands),
        "scorable_traditional": int(summary[1]),
        "scorable_enhanced": int(summary[2]),
        "mean_evidence": round(float(summary[3] or 0), 3),
        "scoring_seconds": round(score_seconds, 3),
        "customers_per_second": round(rows / score_seconds) if score_seconds > 0 else None,
        "preview": dg.MetadataValue.md(preview),
    })


@dg.asset(
    key=["credit", "scorable_population"],
    deps=[credit_scores],
    group_name="credit",
    kinds={"duckdb"},
    pool=WAREHOUSE_WRITE_POOL,
    automation_condition=CREDIT_AUTOMATION,
    description="How many customers are scorable traditionally vs with alternative data, and the uplift "
                "(goal ≥ 20 %); one row per materialization.",
    metadata={"dagster/table_name": "credit.scorable_population"},
)
def credit_scorable_population(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from fintech_dataops.lib.credit.population import record_scorable_population

    with warehouse.get_connection() as con:
        row = record_scorable_population(con, context.run.run_id, _now())
        total = con.execute("SELECT count(*) FROM credit.scorable_population").fetchall()[0][0]
    context.log.info(
        f"scorable: traditional {row['scorable_traditional']:,} → enhanced {row['scorable_enhanced']:,} "
        f"(uplift {row['uplift_pct']} %, goal {row['uplift_goal_pct']} %)"
    )
    return dg.MaterializeResult(metadata={
        "dagster/row_count": int(total),
        **{k: (v if not isinstance(v, datetime) else v.isoformat()) for k, v in row.items() if k != "run_id"},
    })


@dg.asset(
    key=["credit", "loan_decisions"],
    deps=[credit_scores, *_deps(dg.AssetKey(["core", "loan_applications"]))],
    group_name="credit",
    kinds={"duckdb"},
    pool=WAREHOUSE_WRITE_POOL,
    automation_condition=CREDIT_AUTOMATION,
    description="Every loan application decided (approve / decline / manual_review) against the cutoff, "
                "with the adverse-action reasons.",
    metadata={"dagster/table_name": "credit.loan_decisions"},
)
def credit_loan_decisions(context: dg.AssetExecutionContext, config: CreditScoringConfig,
                          warehouse: WarehouseResource):
    from fintech_dataops.lib.credit.decisions import decisions_sql
    from fintech_dataops.lib.warehouse import replace_table, table_exists

    scoring = config.scoring_config()
    with warehouse.get_connection() as con:
        sql, params = decisions_sql(
            scoring, applications_exist=table_exists(con, "core.loan_applications"), decided_at=_now()
        )
        rows = replace_table(con, "credit.loan_decisions", sql, params)
        counts = dict(con.execute("SELECT decision, count(*) FROM credit.loan_decisions GROUP BY 1").fetchall())
        preview = _preview(con, "SELECT application_id, customer_id, requested_amount, score, band, decision, "
                                "reasons[1].code AS first_reason FROM credit.loan_decisions")
    context.log.info(f"credit.loan_decisions: {rows:,} applications → {counts}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows, "approve_cutoff": scoring.approve_cutoff,
        "decisions": dg.MetadataValue.json(counts),
        "approval_rate": round(counts.get("approve", 0) / rows, 4) if rows else None,
        "preview": dg.MetadataValue.md(preview),
    })


@dg.asset(
    key=["credit", "validation"],
    deps=[credit_scores, *_deps(dg.AssetKey(["core", "loan_outcomes"]))],
    group_name="credit",
    kinds={"duckdb", "pandas"},
    pool=WAREHOUSE_WRITE_POOL,
    automation_condition=CREDIT_AUTOMATION,
    description="AUC, Gini and KS of the score and of each component against loan_outcomes; default rate by "
                "band; ROC plot in metadata and an interactive report under <data dir>/reports/.",
    metadata={"dagster/table_name": "credit.validation"},
)
def credit_validation(context: dg.AssetExecutionContext, warehouse: WarehouseResource, data_dir: DataDirResource):
    from fintech_dataops.lib.credit.validation import (
        markdown_report, outcomes_sql, plotly_html, roc_svg, svg_markdown_image, validate, validation_rows,
    )
    from fintech_dataops.lib.warehouse import replace_table

    with warehouse.get_connection() as con:
        report = validate(con.execute(outcomes_sql(con)).df())
        con.register("credit_validation_frame", validation_rows(report, _now()))
        rows = replace_table(con, "credit.validation", "SELECT * FROM credit_validation_frame")
        con.unregister("credit_validation_frame")
    report_path = data_dir.reports_dir / "credit_validation.html"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = report_path.with_suffix(".html.tmp")
    tmp.write_text(plotly_html(report), encoding="utf-8")
    tmp.replace(report_path)
    s = report.score
    context.log.info(f"credit.validation: AUC {s['auc']} Gini {s['gini']} KS {s['ks']} on {s['n']} outcomes")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows, "outcomes": s["n"], "defaults": s["defaults"],
        "auc": s["auc"], "gini": s["gini"], "ks": s["ks"], "unscored_outcomes": report.unscored_outcomes,
        "report": dg.MetadataValue.md(markdown_report(report)),
        "roc_plot": dg.MetadataValue.md(svg_markdown_image(roc_svg(report))),
        "interactive_report": dg.MetadataValue.path(str(report_path)),
    })


credit_assets = [credit_features, credit_scores, credit_scorable_population, credit_loan_decisions, credit_validation]

credit_scoring_job = dg.define_asset_job(
    name="credit_scoring",
    selection=dg.AssetSelection.assets(*credit_assets),
    description="Recompute credit features, scores, scorable population, loan decisions and validation "
    "(by hand, e.g. with other weights; automation_sensor recomputes them when their inputs change).",
)

