"""Credit scoring v2.0: features → scorecard (fitted, champion/challenger) → scores (+ scorable population)
→ loan decisions, validation.

Portfolio-level (unpartitioned) assets over the core tables. They recompute
when an input changes (``ON_INPUT_CHANGE``, run by ``automation_sensor``: their one
trigger), except the scorecard, refitted every Monday (``WEEKLY_REFIT``); ``credit_scoring``
reruns them by hand, e.g. with other weights, ``credit_refit`` refits now. Weights,
scorability rules and the cutoff are run config (``CreditScoringConfig``);
business rules live in ``lib/credit``.
"""

import time
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from fintech_dataops.defs import catalog
from fintech_dataops.defs.automation import ON_INPUT_CHANGE
from fintech_dataops.defs.money_resource import MoneyResource
from fintech_dataops.defs.previews import sql_preview
from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.lib.credit.config import DEFAULT_WEIGHTS, MODEL_VERSION, ScoringConfig
from fintech_dataops.lib.tenancy.settings import current_settings

FEATURE_FEEDS = ("customers", "transactions", "public_records", "partner_loans", "utility_payments", "telco_payments")
CREDIT_AUTOMATION = ON_INPUT_CHANGE
# The scorecard's one trigger: every Monday 04:00 UTC (new outcomes mature monthly; refitting on every
# new transaction would only churn), once nothing it reads is being written.
REFIT_CRON = "0 4 * * 1"
WEEKLY_REFIT = (
    dg.AutomationCondition.cron_tick_passed(REFIT_CRON, "UTC").since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("weekly_refit")
# The core tables credit reads (a table no run has written yet is read as an empty source, lib/credit/features).
FEATURE_KEYS = [catalog.CORE_FEEDS[feed] for feed in FEATURE_FEEDS]
TRANSACTION_KEYS = (catalog.CORE_TRANSACTIONS, catalog.PLATFORM_TRANSACTIONS)


# A tenant's code location (fintech_dataops/tenant_definitions.py) starts from its own policy overrides.
_TENANT_POLICY = current_settings()
_POLICY_WEIGHTS = _TENANT_POLICY.credit_weights or DEFAULT_WEIGHTS


class CreditScoringConfig(dg.Config):
    """What a credit officer tunes; the defaults are the v2.0 policy."""

    weight_transaction_history: float = Field(default=_POLICY_WEIGHTS["transaction_history"], ge=0)
    weight_spending_power: float = Field(default=_POLICY_WEIGHTS["spending_power"], ge=0)
    weight_academic: float = Field(default=_POLICY_WEIGHTS["academic"], ge=0)
    weight_loan_history: float = Field(default=_POLICY_WEIGHTS["loan_history"], ge=0)
    weight_utilities: float = Field(default=_POLICY_WEIGHTS["utilities"], ge=0)
    weight_telco: float = Field(default=_POLICY_WEIGHTS["telco"], ge=0)
    approve_cutoff: int = Field(default=_TENANT_POLICY.credit_approve_cutoff or ScoringConfig.approve_cutoff, ge=300, le=850,
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


@dg.asset(
    key=["credit", "features"],
    deps=[*FEATURE_KEYS, *TRANSACTION_KEYS],
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
        preview = sql_preview(con, "SELECT customer_id, tenure_days, tx_count, academic_score, loan_reports, "
                                "utility_bills, telco_bills FROM credit.features")
    seconds = time.perf_counter() - started
    context.log.info(f"credit.features: {rows:,} customers as of {as_of} in {seconds:.2f}s")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows, "as_of": str(as_of), "seconds": round(seconds, 3),
        "preview": preview,
    })


@dg.asset(
    key=["credit", "scorecard"],
    deps=[credit_features, catalog.CORE_FEEDS["loan_outcomes"]],
    group_name="credit",
    kinds={"python", "json"},
    pool=WAREHOUSE_WRITE_POOL,
    automation_condition=WEEKLY_REFIT,
    description="Fits a challenger scorecard on matured loan outcomes (monotone WoE bins inside the fixed v2.0 "
                "weights, points-to-double-odds scaling), compares it with the champion on the latest "
                "(out-of-time) vintages and promotes it only when it is better there. Versioned JSON under "
                "<data dir>/models/credit/.",
)
def credit_scorecard(context: dg.AssetExecutionContext, config: CreditScoringConfig, warehouse: WarehouseResource,
                     data_dir: DataDirResource):
    from fintech_dataops.lib.credit.scorecard import (
        bins_markdown, champion_vs_challenger, fit_scorecard, load_champion, promote, save_scorecard, training_frame,
    )

    scoring = config.scoring_config()
    with warehouse.get_connection() as con:
        outcomes = training_frame(con)
        population = con.execute("SELECT * FROM credit.features").df()
    champion = load_champion(data_dir.models_dir)
    try:
        challenger = fit_scorecard(outcomes, scoring, trained_at=_now(), population=population)
    except ValueError as exc:  # too few outcomes: the champion stays, visibly
        context.log.warning(f"no challenger fitted: {exc}")
        return dg.MaterializeResult(metadata={
            "champion": champion.version if champion else "credit-v2.0", "promoted": False,
            "outcomes": len(outcomes), "reason": str(exc)})
    path = save_scorecard(challenger, data_dir.models_dir)
    decision = champion_vs_challenger(challenger, champion, outcomes, scoring, _now())
    if decision["promoted"]:
        promote(data_dir.models_dir, challenger, decision)
    context.log.info(
        f"credit scorecard {challenger.version}: out-of-time AUC {decision['challenger_auc']} vs champion "
        f"{decision['champion']} {decision['champion_auc']} on {decision['out_of_time_outcomes']} outcomes → "
        f"{'promoted' if decision['promoted'] else 'champion kept'}"
    )
    return dg.MaterializeResult(metadata={
        "challenger": challenger.version, "champion": decision["champion"] if not decision["promoted"]
        else challenger.version, "promoted": decision["promoted"],
        "decision": dg.MetadataValue.json(decision),
        "training_window": dg.MetadataValue.json(challenger.training_window),
        "validation": dg.MetadataValue.json(challenger.validation),
        "calibration": dg.MetadataValue.json(challenger.calibration),
        "scaling": dg.MetadataValue.json(challenger.scaling),
        "weights": dg.MetadataValue.json(challenger.weights),
        "bins": dg.MetadataValue.md(bins_markdown(challenger)),
        "path": dg.MetadataValue.path(str(path)),
    })


@dg.asset(
    key=catalog.CREDIT_SCORES,
    deps=[credit_features, credit_scorecard],
    group_name="credit",
    kinds={"duckdb", "pandas"},
    pool=WAREHOUSE_WRITE_POOL,
    automation_condition=CREDIT_AUTOMATION,
    description="Score 300-850 per customer: six weighted components (missing ones re-weighted), evidence, "
                "band, traditional vs enhanced scorability and up to four reason codes.",
    metadata={"dagster/table_name": "credit.scores", "model_version": MODEL_VERSION},
)
def credit_scores(context: dg.AssetExecutionContext, config: CreditScoringConfig, warehouse: WarehouseResource,
                  data_dir: DataDirResource):
    from fintech_dataops.lib.credit.scorecard import load_champion
    from fintech_dataops.lib.credit.scoring import score_portfolio, scores_select
    from fintech_dataops.lib.warehouse import replace_table

    scoring = config.scoring_config()
    card = load_champion(data_dir.models_dir)
    started = time.perf_counter()
    with warehouse.get_connection() as con:
        features = con.execute("SELECT * FROM credit.features").df()
        scored = score_portfolio(features, scoring, scorecard=card)
        score_seconds = time.perf_counter() - started
        con.register("credit_scored_frame", scored)
        scored_at = _now()
        sql, params = scores_select("credit_scored_frame", scored_at, scoring.max_reasons)
        rows = replace_table(con, "credit.scores", sql, params)
        con.unregister("credit_scored_frame")

        bands = dict(con.execute("SELECT band, count(*) FROM credit.scores GROUP BY 1 ORDER BY 1").fetchall())
        summary = con.execute(
            "SELECT avg(score), count(*) FILTER (WHERE scorable_traditional), "
            "count(*) FILTER (WHERE scorable_enhanced), avg(evidence) FROM credit.scores"
        ).fetchall()[0]
        preview = sql_preview(con, "SELECT customer_id, score, band, evidence, scorable_traditional, "
                                "scorable_enhanced, reasons[1].code AS top_reason FROM credit.scores")
    seconds = time.perf_counter() - started
    context.log.info(f"credit.scores: {rows:,} customers scored in {score_seconds:.2f}s (written in {seconds:.2f}s)")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "model_version": card.version if card else scoring.model_version,
        "weights": dg.MetadataValue.json(dict(scoring.weights)),
        "mean_score": round(float(summary[0] or 0), 1),
        "customers_by_band": dg.MetadataValue.json(bands),
        "scorable_traditional": int(summary[1]),
        "scorable_enhanced": int(summary[2]),
        "mean_evidence": round(float(summary[3] or 0), 3),
        "scoring_seconds": round(score_seconds, 3),
        "customers_per_second": round(rows / score_seconds) if score_seconds > 0 else None,
        "preview": preview,
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
    key=catalog.LOAN_DECISIONS,
    deps=[credit_scores, catalog.CORE_FEEDS["loan_applications"]],
    group_name="credit",
    kinds={"duckdb"},
    pool=WAREHOUSE_WRITE_POOL,
    automation_condition=CREDIT_AUTOMATION,
    description="Every loan application decided (approve / decline / manual_review) against the cutoff, "
                "with the adverse-action reasons.",
    metadata={"dagster/table_name": "credit.loan_decisions"},
)
def credit_loan_decisions(context: dg.AssetExecutionContext, config: CreditScoringConfig,
                          warehouse: WarehouseResource, money: MoneyResource):
    from fintech_dataops.lib.credit.decisions import decisions_sql
    from fintech_dataops.lib.warehouse import replace_table, table_exists

    scoring = config.scoring_config()
    with warehouse.get_connection() as con:
        exists = table_exists(con, "core.loan_applications")
        columns = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' "
            "AND table_name = 'loan_applications'").fetchall()}
        sql, params = decisions_sql(scoring, applications_exist=exists, decided_at=_now(),
                                    reporting_currency=money.config.reporting_currency, application_columns=columns)
        rows = replace_table(con, "credit.loan_decisions", sql, params)
        counts = dict(con.execute("SELECT decision, count(*) FROM credit.loan_decisions GROUP BY 1").fetchall())
        preview = sql_preview(con, "SELECT application_id, customer_id, requested_amount, currency, "
                                "requested_amount_reporting, score, band, decision, "
                                "reasons[1].code AS first_reason FROM credit.loan_decisions")
    context.log.info(f"credit.loan_decisions: {rows:,} applications → {counts}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows, "approve_cutoff": scoring.approve_cutoff,
        "decisions": dg.MetadataValue.json(counts),
        "approval_rate": round(counts.get("approve", 0) / rows, 4) if rows else None,
        "preview": preview,
    })


@dg.asset(
    key=["credit", "validation"],
    deps=[credit_scores, catalog.CORE_FEEDS["loan_outcomes"]],
    group_name="credit",
    kinds={"duckdb", "pandas"},
    pool=WAREHOUSE_WRITE_POOL,
    automation_condition=CREDIT_AUTOMATION,
    description="AUC, Gini and KS of the score and of each component against loan_outcomes; default rate by "
                "band; ROC plot in metadata and an interactive report under <data dir>/reports/.",
    metadata={"dagster/table_name": "credit.validation"},
)
def credit_validation(context: dg.AssetExecutionContext, warehouse: WarehouseResource, data_dir: DataDirResource):
    from fintech_dataops.lib.credit.scorecard import load_champion
    from fintech_dataops.lib.credit.validation import (
        markdown_report, outcome_frame, outcomes_sql, plotly_html, read_truth, roc_svg, svg_markdown_image, validate,
        validation_rows, validation_summary,
    )
    from fintech_dataops.lib.warehouse import replace_table

    card = load_champion(data_dir.models_dir)
    with warehouse.get_connection() as con:
        report = validate(con.execute(outcomes_sql(con)).df())
        summary = validation_summary(
            outcome_frame(con), card=card, truth=read_truth(data_dir.root),
            out_of_time_from=card.training_window["applied_to"] if card else None)
        validated_at = _now()
        rows_frame = validation_rows(report, validated_at)
        if "out_of_time" in summary:  # the champion on the vintages after its training window
            o = summary["out_of_time"]
            rows_frame.loc[len(rows_frame)] = {"kind": "model", "name": "score_out_of_time", "n": o["outcomes"],
                                               "defaults": o["defaults"], "auc": o["auc"], "gini": o["gini"],
                                               "ks": o["ks"], "coverage": None, "default_rate": None,
                                               "validated_at": validated_at}
        for v in summary["by_vintage"]:  # AUC / KS per application month, as outcomes mature
            rows_frame.loc[len(rows_frame)] = {
                "kind": "vintage", "name": v["vintage"], "n": v["outcomes"], "defaults": v["defaults"],
                "auc": v["auc"], "gini": None if v["auc"] is None else round(2 * v["auc"] - 1, 4), "ks": v["ks"],
                "coverage": None, "default_rate": round(v["defaults"] / v["outcomes"], 4) if v["outcomes"] else None,
                "validated_at": validated_at}
        con.register("credit_validation_frame", rows_frame)
        rows = replace_table(con, "credit.validation", "SELECT * FROM credit_validation_frame")
        con.unregister("credit_validation_frame")

    from fintech_dataops.lib.ingestion.landing import write_atomic

    report_path = write_atomic(data_dir.reports_dir / "credit_validation.html", plotly_html(report).encode("utf-8"))
    s = report.score
    context.log.info(f"credit.validation: AUC {s['auc']} Gini {s['gini']} KS {s['ks']} on {s['n']} outcomes")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows, "outcomes": s["n"], "defaults": s["defaults"],
        "auc": s["auc"], "gini": s["gini"], "ks": s["ks"], "unscored_outcomes": report.unscored_outcomes,
        "oracle_auc": summary["oracle_auc"], "auc_to_oracle": summary["auc_to_oracle"],
        "out_of_time": dg.MetadataValue.json(summary.get("out_of_time", {})),
        "calibration_by_band": dg.MetadataValue.json(summary["calibration_by_band"]),
        "thin_thick_parity": dg.MetadataValue.json(summary["thin_thick_parity"]),
        "by_vintage": dg.MetadataValue.json(summary["by_vintage"]),
        "report": dg.MetadataValue.md(markdown_report(report)),
        "roc_plot": dg.MetadataValue.md(svg_markdown_image(roc_svg(report))),
        "interactive_report": dg.MetadataValue.path(str(report_path)),
    })


@dg.asset(
    key=["credit", "stability"],
    deps=[credit_scores],
    group_name="credit",
    kinds={"duckdb"},
    pool=WAREHOUSE_WRITE_POOL,
    automation_condition=CREDIT_AUTOMATION,
    description="Population stability (PSI) of the score and of each component per scoring run against the "
                "champion scorecard's development portfolio; one row per run and variable (the monitor's history; "
                "the psi_* checks on credit/scores judge the latest run).",
    metadata={"dagster/table_name": "credit.stability"},
)
def credit_stability(context: dg.AssetExecutionContext, warehouse: WarehouseResource, data_dir: DataDirResource):
    from fintech_dataops.lib.credit.scorecard import STABILITY_TABLE, load_champion, record_stability

    card = load_champion(data_dir.models_dir)
    with warehouse.get_connection() as con:
        scores = con.execute("SELECT * FROM credit.scores").df()
        scored_at = scores["scored_at"].max() if len(scores) else _now()
        # the hand-set baseline has no development sample: nothing to compare with (an empty history)
        values = record_stability(con, card, scores, scored_at)
        rows = con.execute(f"SELECT count(*) FROM {STABILITY_TABLE}").fetchone()[0]
    context.log.info(f"credit.stability: {values or 'no fitted champion, nothing to compare with'}")
    return dg.MaterializeResult(metadata={"dagster/row_count": int(rows), "psi": dg.MetadataValue.json(values),
                                          "model_version": card.version if card else "credit-v2.0"})


credit_assets = [credit_features, credit_scores, credit_scorable_population, credit_loan_decisions, credit_validation,
                 credit_scorecard, credit_stability]


def _psi_check(name: str):
    @dg.asset_check(asset=credit_scores, name=f"psi_{name}", blocking=False,
                    description=f"Population stability of {'the score' if name == 'score' else name} against the "
                                "champion scorecard's development portfolio: WARN from 0.10, ERROR from 0.25.")
    def check(warehouse: WarehouseResource, data_dir: DataDirResource) -> dg.AssetCheckResult:
        from fintech_dataops.lib.credit.scorecard import load_champion, psi_severity, stability

        card = load_champion(data_dir.models_dir)
        if card is None:
            return dg.AssetCheckResult(passed=True, metadata={
                "note": "the hand-set v2.0 baseline is the champion: no development distribution to compare with"})
        with warehouse.get_connection() as con:
            scores = con.execute("SELECT * FROM credit.scores").df()
        value = stability(card, scores)[name]
        return psi_check_result(name, value, psi_severity(value), card.version)

    return check


def psi_check_result(name: str, value: float, severity: str, version: str) -> dg.AssetCheckResult:
    """ok → passed; warn → failed WARN; error → failed ERROR (with the figure in the description)."""
    metadata = {"psi": value, "model_version": version, "warn_at": 0.10, "error_at": 0.25}
    if severity == "ok":
        return dg.AssetCheckResult(passed=True, metadata=metadata)
    return dg.AssetCheckResult(
        passed=False, metadata=metadata,
        severity=dg.AssetCheckSeverity.ERROR if severity == "error" else dg.AssetCheckSeverity.WARN,
        description=f"PSI of {name} = {value:.3f} against the development portfolio of {version} "
                    f"({'≥ 0.25: refit' if severity == 'error' else '≥ 0.10: watch'})",
    )


PSI_CHECKS = [_psi_check(name) for name in ("score", *DEFAULT_WEIGHTS)]


def _validation_summary(warehouse: WarehouseResource, data_dir: DataDirResource) -> dict:
    from fintech_dataops.lib.credit.scorecard import load_champion
    from fintech_dataops.lib.credit.validation import outcome_frame, validation_summary

    card = load_champion(data_dir.models_dir)
    with warehouse.get_connection() as con:
        return validation_summary(outcome_frame(con), card=card)


@dg.asset_check(asset=credit_validation, name="default_rate_monotone_by_band", blocking=False,
                description="Observed default rate never rises from a worse band to a better one (bands with ≥ 30 "
                            "matured outcomes).")
def default_rate_monotone_by_band(warehouse: WarehouseResource, data_dir: DataDirResource) -> dg.AssetCheckResult:
    summary = _validation_summary(warehouse, data_dir)
    return dg.AssetCheckResult(
        passed=summary["default_rate_monotone"],
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if summary["default_rate_monotone"] else "; ".join(summary["monotonicity_problems"]),
        metadata={"calibration_by_band": dg.MetadataValue.json(summary["calibration_by_band"])},
    )


@dg.asset_check(asset=credit_validation, name="thin_thick_parity", blocking=False,
                description="Within each band, thin-file and thick-file default rates agree: the 95 % interval "
                            "of their difference contains 0 (bands with ≥ 30 outcomes on each side).")
def thin_thick_parity_check(warehouse: WarehouseResource, data_dir: DataDirResource) -> dg.AssetCheckResult:
    summary = _validation_summary(warehouse, data_dir)
    failing = [r for r in summary["thin_thick_parity"] if r["agree"] is False]
    return dg.AssetCheckResult(
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if not failing else "; ".join(
            f"{r['band']}: thin {r['thin_default_rate']:.1%} (n={r['thin_outcomes']}, CI {r['thin_ci']}) vs thick "
            f"{r['thick_default_rate']:.1%} (n={r['thick_outcomes']}, CI {r['thick_ci']}), difference CI "
            f"{r['difference_ci']}" for r in failing),
        metadata={"parity": dg.MetadataValue.json(summary["thin_thick_parity"])},
    )


credit_checks = [*PSI_CHECKS, default_rate_monotone_by_band, thin_thick_parity_check]

credit_scoring_job = dg.define_asset_job(
    name="credit_scoring",
    selection=dg.AssetSelection.assets(*credit_assets),
    description="Recompute credit features, scores, scorable population, loan decisions and validation "
    "(by hand, e.g. with other weights; automation_sensor recomputes them when their inputs change).",
)

# By hand (e.g. when a PSI check reaches ERROR): refit the scorecard now, then everything downstream.
# A challenger replaces the champion only when it is better on the out-of-time vintages.
credit_refit_job = dg.define_asset_job(
    name="credit_refit",
    selection=dg.AssetSelection.assets(credit_scorecard).downstream(),
    description="Refit the credit scorecard (champion/challenger) and rescore.",
)
