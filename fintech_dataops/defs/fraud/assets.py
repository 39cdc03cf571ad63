"""Fraud assets: features → model → scored transactions → alerts → evaluation (tables ``fraud.*``).

Bodies are wiring: read through the warehouse resource, one ``lib.fraud`` call,
one idempotent write, metadata. scikit-learn is imported only inside the model
and scoring steps (through ``lib.fraud.model``), never at module import.
"""

import time

import dagster as dg
from pydantic import Field

from fintech_dataops.defs import catalog
from fintech_dataops.defs.previews import table_preview
from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL, daily_partitions, record_each_day
from fintech_dataops.defs.alert_sink import AlertSink
from fintech_dataops.defs.money_resource import MoneyResource
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.lib.fraud.rules import RuleConfig
from fintech_dataops.lib.tenancy.settings import current_settings

FEATURES = dg.AssetKey(["fraud", "features"])
MODEL = dg.AssetKey(["fraud", "model"])
SCORED = catalog.SCORED_TRANSACTIONS
ALERTS = catalog.FRAUD_ALERTS
EVALUATION = dg.AssetKey(["fraud", "evaluation"])
# Labels: chargebacks (core), Stripe disputes (open banking) and analysts' dispositions from the fraud monitor.
LABEL_KEYS = [catalog.CORE_FRAUD_LABELS, catalog.STRIPE_FRAUD_LABELS, catalog.FRAUD_DISPOSITIONS]
TRANSACTION_KEYS = [catalog.CORE_TRANSACTIONS, catalog.PLATFORM_TRANSACTIONS]


# The defaults live in lib (one source); the Config classes below read them. A tenant's code location
# (fintech_dataops/tenant_definitions.py) starts from its own overrides of them.
_RULES = current_settings().rule_config()


class FraudFeaturesConfig(dg.Config):
    velocity_window_s: float = Field(default=_RULES.velocity_window_s,
                                     description="VELOCITY rule window (seconds, event time)")
    label_delay_days: int = Field(default=7, description="Merchant risk windows (1/7/30 days) end this many days "
                                                        "before the transaction: fraud labels arrive late")


class FraudScoringConfig(dg.Config):
    use_model: bool = Field(default=True, description="Score with the CURRENT model when one exists")


class FraudAlertsConfig(dg.Config):
    notify_within_hours: float = Field(
        default=24.0, description="Notify (alerts.log, Slack when configured) new blocks and reviews scored >= 0.9 "
                                  "whose transaction happened within this many hours; older days (backfills) never "
                                  "notify; 0 = off")


class FraudModelConfig(dg.Config):
    training_days: int = Field(default=28, description="Trailing window of features to train on")
    label_maturity_days: int = Field(default=7, description="Leave the newest days out: their labels are incomplete")
    validation_days: int = Field(default=7, description="Last days of the window used to choose and calibrate")
    target_fpr: float = Field(default=0.001, description="False-positive-rate budget of review decisions (0.1 %)")
    block_fpr: float = Field(default=0.0001, description="False-positive-rate budget of block decisions")
    calibration_margin: float = Field(default=0.5, description="Calibrate to target_fpr × margin")
    kind: str = Field(default="auto", description="auto, isolation_forest, supervised or stacked")
    isolation_trees: int = Field(default=100, description="Isolation Forest size")
    boosting_iterations: int = Field(default=150, description="Gradient-boosting iterations")
    # The fraud rules: saved as this data dir's active rules (lib.fraud.rules.save_rules), which batch
    # scoring, the online service and the CLI all read; the model is calibrated with them.
    high_value_amount: float = Field(default=_RULES.high_value_amount,
                                     description="HIGH_VALUE: amount in the reporting currency strictly above this is reviewed")
    high_value_action: str = Field(default=_RULES.high_value_action, description="HIGH_VALUE action: review or block")
    high_value_enabled: bool = Field(default=_RULES.high_value_enabled, description="HIGH_VALUE rule on")
    velocity_max_transactions: int = Field(default=_RULES.velocity_max_transactions,
                                           description="VELOCITY: more than this many in the window")
    velocity_action: str = Field(default=_RULES.velocity_action, description="VELOCITY action: review or block")
    velocity_enabled: bool = Field(default=_RULES.velocity_enabled, description="VELOCITY rule on")

    def rules(self) -> RuleConfig:
        return RuleConfig(**{name: getattr(self, name) for name in RULE_FIELDS})


RULE_FIELDS = ("high_value_amount", "high_value_action", "high_value_enabled", "velocity_max_transactions",
               "velocity_action", "velocity_enabled")


@dg.asset(
    key=FEATURES,
    deps=[*TRANSACTION_KEYS, *LABEL_KEYS, catalog.FX_RATES],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="fraud",
    kinds={"duckdb", "pandas"},
    pool=WAREHOUSE_WRITE_POOL,
    description="Past-only features per transaction (customer windows 1h/1d/7d/30d, velocity, device, merchant "
                "count and fraud rate over 1/7/30 days behind the label delay, night/weekend), with the previous "
                "days' tail as history.",
    metadata={"dagster/table_name": "fraud.features"},
)
def fraud_features(context: dg.AssetExecutionContext, config: FraudFeaturesConfig, warehouse: WarehouseResource,
                   money: MoneyResource):
    from fintech_dataops.lib.fraud.features import FeatureConfig
    from fintech_dataops.lib.fraud.warehouse_io import FEATURES_TABLE, daily_counts, features_for_days, write_partitions

    feature_config = FeatureConfig(velocity_window_s=config.velocity_window_s, label_delay_days=config.label_delay_days)
    with warehouse.get_connection() as con:
        run = features_for_days(con, context.partition_keys, feature_config, money.config)
        rows = write_partitions(con, FEATURES_TABLE, run.features, context.partition_keys)
    if run.note:
        context.log.warning(f"fraud.features: {run.note}")
    record_each_day(context, {day: {"dagster/row_count": counts["rows"]}
                              for day, counts in daily_counts(run.features, context.partition_keys).items()})
    return dg.MaterializeResult(metadata={  # the run's figures (a range: all its days); each day's own: above
        "rows_in_run": rows,
        "days_in_run": len(context.partition_keys),
        "history_rows": run.history_rows,
        "fraud_labels_known": run.labels,
        "seconds": round(run.seconds, 3),
        "rows_per_second": round(rows / run.seconds) if run.seconds > 0 else 0,
        "note": run.note or "ok",
        "preview": table_preview(run.features, ["transaction_id", "customer_id", "amount", "customer_count_1d",
                                                "amount_ratio_30d", "velocity_count", "merchant_fraud_rate_7d"]),
    })


@dg.asset(
    key=MODEL,
    deps=[FEATURES, *LABEL_KEYS],
    group_name="fraud",
    kinds={"sklearn", "duckdb"},
    description="Isolation Forest + gradient boosting on past labels (the better one on validation ships), "
                "thresholds calibrated for FPR < 0.1 %; saved under <data dir>/models/fraud/<version>/.",
)
def fraud_model(context: dg.AssetExecutionContext, config: FraudModelConfig, warehouse: WarehouseResource,
                data_dir: DataDirResource):
    from fintech_dataops.lib.fraud.evaluation import metrics_markdown
    from fintech_dataops.lib.fraud.model import ModelConfig, save_model, train_model
    import numpy as np
    import pandas as pd

    from fintech_dataops.lib.fraud.rules import save_rules
    from fintech_dataops.lib.fraud.warehouse_io import TrainingData, training_data

    started = time.perf_counter()
    rules = config.rules()
    save_rules(data_dir.models_dir, rules)  # the active rules, even when there is too little data to train
    if warehouse.is_local_file and not warehouse.path.exists():
        data = TrainingData(pd.DataFrame(), np.zeros(0, bool), None, None, f"no warehouse yet at {warehouse.path}")
    else:
        with warehouse.read_connection() as con:
            data = training_data(con, training_days=config.training_days,
                                 label_maturity_days=config.label_maturity_days)
    if len(data.features) < 100:
        note = data.note or f"only {len(data.features)} transactions in the training window: model not retrained"
        context.log.warning(f"fraud.model: {note}")
        return dg.MaterializeResult(metadata={"status": "not trained", "note": note,
                                              "rules": dg.MetadataValue.json(rules.as_dict())})
    model = train_model(
        data.features, data.is_fraud,
        config=ModelConfig(validation_days=config.validation_days, target_fpr=config.target_fpr,
                           block_fpr=config.block_fpr, calibration_margin=config.calibration_margin, kind=config.kind,
                           isolation_trees=config.isolation_trees, boosting_iterations=config.boosting_iterations,
                           threads=_step_threads(context)),
        rule_config=rules,
    )
    path = save_model(model, data_dir.models_dir)
    chosen = model.evaluation["candidates"][model.kind]
    table = {"rules_only": model.evaluation["rules_only"],
             **{f"{k} (model only)": v["model_only"] for k, v in model.evaluation["candidates"].items()},
             f"{model.kind} + rules": chosen["combined"]}
    context.log.info(f"fraud.model {model.version} ({model.kind}) saved to {path}")
    return dg.MaterializeResult(metadata={
        "status": "trained",
        "version": model.version,
        "kind": model.kind,
        "path": dg.MetadataValue.path(str(path)),
        "training_window": dg.MetadataValue.json(model.training_window),
        "features": dg.MetadataValue.json(list(model.feature_names)),
        "review_threshold": dg.MetadataValue.float(model.review_threshold),
        "block_threshold": dg.MetadataValue.float(model.block_threshold),
        "validation_auc_roc": dg.MetadataValue.float(float(chosen["model_only"].get("auc_roc") or 0.0)),
        "validation_average_precision": dg.MetadataValue.float(
            float(chosen["model_only"].get("average_precision") or 0.0)),
        "validation": dg.MetadataValue.md(metrics_markdown(table)),
        "evaluation": dg.MetadataValue.json(model.evaluation),
        "threads": _step_threads(context),
        "seconds": round(time.perf_counter() - started, 2),
    })


def _step_threads(context: dg.AssetExecutionContext) -> int:
    """OpenMP/BLAS threads for this step: the CPUs available (cgroup quota included) shared by the
    steps the run's executor runs at once (issue 19: oversubscribed threads turned 5 s into 280 s)."""
    from fintech_dataops.lib.cpu_budget import executor_concurrency, thread_budget

    try:
        run_config, executor = context.run.run_config, context.job_def.executor_def.name
    except (dg.DagsterInvariantViolationError, AttributeError):  # invoked directly, outside a run
        return thread_budget(1)
    return thread_budget(executor_concurrency(run_config, executor))


def _engine(config: FraudScoringConfig, data_dir: DataDirResource, log, fx=None):
    from fintech_dataops.lib.fraud.engine import FraudEngine
    from fintech_dataops.lib.fraud.model import current_version, load_model
    from fintech_dataops.lib.fraud.rules import rules_for_model

    model = None
    if config.use_model and current_version(data_dir.models_dir):
        try:
            model = load_model(data_dir.models_dir)
        except (FileNotFoundError, TypeError, ValueError) as exc:
            log.warning(f"fraud model unavailable ({exc}); scoring with the rules only")
    return FraudEngine(rules=rules_for_model(data_dir.models_dir, model), model=model, fx=fx)


@dg.asset(
    key=SCORED,
    deps=[FEATURES, MODEL],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="fraud",
    kinds={"duckdb", "pandas", "sklearn"},
    pool=WAREHOUSE_WRITE_POOL,
    description="Every transaction with its decision (approve/review/block), risk and model scores, rule ids and "
                "reasons, by the same FraudEngine the online service runs.",
    metadata={"dagster/table_name": "fraud.scored_transactions"},
)
def fraud_scored_transactions(context: dg.AssetExecutionContext, config: FraudScoringConfig,
                              warehouse: WarehouseResource, data_dir: DataDirResource, money: MoneyResource):
    from fintech_dataops.lib.fraud.warehouse_io import SCORED_TABLE, daily_counts, score_days, write_partitions
    from fintech_dataops.lib.money.fx import FxRates

    started = time.perf_counter()
    with warehouse.get_connection() as con:
        fx = FxRates.from_warehouse(con, money.config)
    from fintech_dataops.lib.cpu_budget import cpu_threads

    engine = _engine(config, data_dir, context.log, fx)
    with warehouse.get_connection() as con, cpu_threads(_step_threads(context)):
        scored = score_days(con, context.partition_keys, engine)
        rows = write_partitions(con, SCORED_TABLE, scored, context.partition_keys, ("rule_ids", "reasons"))
    record_each_day(context, {
        day: {"dagster/row_count": day_counts["rows"],
              **{decision: day_counts.get(decision, 0) for decision in ("approve", "review", "block")}}
        for day, day_counts in daily_counts(scored, context.partition_keys, by="decision").items()})
    return dg.MaterializeResult(metadata={  # the run's figures (a range: all its days); each day's own: above
        "rows_in_run": rows,
        "days_in_run": len(context.partition_keys),
        "model_version": engine.model_version or "rules only",
        "seconds": round(time.perf_counter() - started, 3),
    })


@dg.asset(
    key=ALERTS,
    deps=[SCORED],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="fraud",
    kinds={"duckdb", "pandas"},
    pool=WAREHOUSE_WRITE_POOL,
    description="One row per review/block decision: transaction, customer, amount, scores, decision, reasons, "
                "rule ids — the risk analyst's queue.",
    metadata={"dagster/table_name": "fraud.alerts"},
)
def fraud_alerts(context: dg.AssetExecutionContext, config: FraudAlertsConfig, warehouse: WarehouseResource,
                 alert_sink: AlertSink):
    from datetime import datetime, timedelta, timezone

    from fintech_dataops.lib.fraud.warehouse_io import (
        ALERTS_TABLE, alerts_by_rule, alerts_from_scored, daily_counts, read_scored, write_partitions,
    )
    from fintech_dataops.lib.monitor.notify import batch_notifications, notified_transactions

    with warehouse.get_connection() as con:
        alerts = alerts_from_scored(read_scored(con, context.partition_keys))
        rows = write_partitions(con, ALERTS_TABLE, alerts, context.partition_keys, ("reasons", "rule_ids"))
    # New blocks and high-score reviews page the analysts as the service's do (transactions from partner
    # files never pass the service): recent ones only, none the service or an earlier run already sent.
    notifications = []
    now = datetime.now(timezone.utc)
    window = timedelta(hours=config.notify_within_hours)
    # Only recent rows become records (a month-long backfill has nothing to notify and skips the work).
    recent = alerts[alerts["event_time"] >= (now - window).replace(tzinfo=None)] if len(alerts) else alerts
    if config.notify_within_hours > 0 and len(recent):
        notifications = batch_notifications(recent.to_dict("records"), already=notified_transactions(
            alert_sink.log_path), now=now, within=window)
        for notification in notifications:
            alert_sink.send(notification, context.log)
    rules_by_day = alerts_by_rule(alerts, context.partition_keys)
    record_each_day(context, {
        day: {"dagster/row_count": counts["rows"], "alerts_by_rule": dg.MetadataValue.json(rules_by_day[day])}
        for day, counts in daily_counts(alerts, context.partition_keys).items()})
    return dg.MaterializeResult(metadata={  # the run's figures (a range: all its days); each day's own: above
        "rows_in_run": rows,
        "days_in_run": len(context.partition_keys),
        "notifications_sent": len(notifications),
        "preview": table_preview(alerts, ["transaction_id", "amount", "decision", "risk_score", "rule_ids"]),
    })


@dg.asset(
    key=EVALUATION,
    deps=[SCORED, MODEL, *LABEL_KEYS],
    group_name="fraud",
    kinds={"duckdb", "pandas"},
    pool=WAREHOUSE_WRITE_POOL,
    description="Precision, recall, FPR (all alerts and without the mandatory >800 reviews), AUC-ROC, average "
                "precision, alerts/day and fraud value caught — rules only, model only and combined — against the "
                "labels that have arrived, on the days after the model's training window.",
    metadata={"dagster/table_name": "fraud.evaluation"},
)
def fraud_evaluation(context: dg.AssetExecutionContext, warehouse: WarehouseResource, data_dir: DataDirResource):
    from datetime import date

    from fintech_dataops.lib.fraud.evaluation import metrics_markdown, read_truth, svg_markdown
    from fintech_dataops.lib.fraud.model import current_version, read_manifest
    from fintech_dataops.lib.fraud.warehouse_io import EVALUATION_TABLE, evaluate_scored, save_report
    from fintech_dataops.lib.warehouse import replace_table

    manifest = read_manifest(data_dir.models_dir) if current_version(data_dir.models_dir) else None
    after = date.fromisoformat(manifest["training_window"]["end"][:10]) if manifest else None
    review = manifest["thresholds"]["review"] if manifest else None
    with warehouse.get_connection() as con:
        result = evaluate_scored(con, out_of_sample_after=after, review_threshold=review,
                                 truth=read_truth(data_dir.root))
        rows = 0
        if len(result.table):
            con.register("_evaluation", result.table)
            rows = replace_table(con, EVALUATION_TABLE, "SELECT * FROM _evaluation")
            con.unregister("_evaluation")
    for note in result.notes:
        context.log.warning(f"fraud.evaluation: {note}")
    metadata = {"dagster/row_count": rows, "scope": result.scope, "days": result.days,
                "model_version": manifest["version"] if manifest else "rules only",
                "metrics": dg.MetadataValue.md(metrics_markdown(result.comparison) if result.comparison else "(none)")}
    for strategy, metrics in result.comparison.items():
        for name in ("false_positive_rate", "false_positive_rate_discretionary", "recall", "precision",
                     "auc_roc", "average_precision", "alerts_per_day", "fraud_value_caught"):
            if metrics.get(name) is not None:
                metadata[f"{strategy}/{name}"] = dg.MetadataValue.float(float(metrics[name]))
    for strategy, metrics in result.truth_comparison.items():  # a simulation's ground truth (demo)
        for name in ("false_positive_rate_discretionary", "recall"):
            if metrics.get(name) is not None:
                metadata[f"ground_truth/{strategy}/{name}"] = dg.MetadataValue.float(float(metrics[name]))
    if result.svg:
        path = save_report(data_dir.reports_dir, "evaluation_curves.svg", result.svg)
        metadata["curves"] = dg.MetadataValue.md(svg_markdown(result.svg))
        metadata["curves_file"] = dg.MetadataValue.path(str(path))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=MODEL, name="current_model_fit_to_serve", blocking=False,
                description="The CURRENT model computes the features this code serves, its thresholds are "
                            "ordered, and its discretionary FPR on its validation days is within its target.")
def current_model_fit_to_serve(data_dir: DataDirResource) -> dg.AssetCheckResult:
    from fintech_dataops.lib.fraud.model import model_problems, read_manifest

    try:
        manifest = read_manifest(data_dir.models_dir)
    except FileNotFoundError:
        return dg.AssetCheckResult(passed=True, description="no model trained yet: the rules decide alone",
                                   metadata={"model_version": "none"})
    problems = model_problems(manifest)
    return dg.AssetCheckResult(
        passed=not problems, severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(problems) or None,
        metadata={"model_version": manifest.get("version", ""), "kind": manifest.get("kind", ""),
                  "thresholds": dg.MetadataValue.json(manifest.get("thresholds") or {})},
    )


fraud_assets = [fraud_features, fraud_model, fraud_scored_transactions, fraud_alerts, fraud_evaluation]
fraud_checks = [current_model_fit_to_serve]
