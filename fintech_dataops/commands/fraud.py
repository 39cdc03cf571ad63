"""``fintech-dataops fraud backtest`` / ``fraud score``: replay rules and models on files.

- ``backtest --train TRAIN --test TEST [--label-column is_fraud]`` fits on TRAIN,
  scores TEST (with TRAIN as history) and prints one JSON object.
- ``score INPUT OUTPUT`` scores a file with the CURRENT model of the data dir
  (``<data dir>/models/fraud``; rules only when no model was trained yet).

Files: CSV or Parquet with the landing-zone transaction fields; extra columns are
ignored and ``currency`` defaults to USD.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fintech_dataops.lib.ingestion.landing import resolve_data_dir


def register(subparsers) -> None:
    fraud = subparsers.add_parser("fraud", help="fraud backtests and file scoring")
    commands = fraud.add_subparsers(dest="fraud_command", metavar="SUBCOMMAND")
    fraud.set_defaults(handler=lambda args: (fraud.print_help(), 2)[1])

    b = commands.add_parser("backtest", help="fit on TRAIN, score TEST, print metrics as one JSON object")
    b.add_argument("--train", type=Path, required=True, help="CSV or Parquet file to fit on")
    b.add_argument("--test", type=Path, required=True, help="CSV or Parquet file to score and measure")
    b.add_argument("--label-column", default="is_fraud", help="label column in both files (default is_fraud)")
    b.add_argument("--target-fpr", type=float, default=0.001, help="false-positive-rate budget (default 0.001)")
    # Unset rule flags take the data dir's active rules (what batch and online score with), whose
    # defaults are RuleConfig's: one source.
    active = "default: the data dir's active rules, the platform's RuleConfig until configured"
    b.add_argument("--high-value-amount", type=float, default=None, help=f"HIGH_VALUE threshold ({active})")
    b.add_argument("--velocity-max", type=int, default=None, help=f"VELOCITY: more than N transactions ({active})")
    b.add_argument("--velocity-window", type=float, default=None, help=f"VELOCITY window seconds ({active})")
    b.add_argument("--label-delay-days", type=int, default=7,
                   help="days until a fraud label is known, when the files carry no report time (default 7)")
    b.add_argument("--scenario-column", default=None, help="optional TEST column: recall per fraud scenario")
    b.add_argument("--details", action="store_true", help="add per-strategy metrics (rules/model/combined)")
    b.add_argument("--fx-rates", type=Path, default=None,
                   help="ECB reference-rate CSV/zip to convert with (default: core.fx_rates of the data dir's "
                        "warehouse, else the bundled ECB history)")
    b.add_argument("--reporting-currency", default="USD", help="currency the rules judge amounts in (default USD)")
    b.set_defaults(handler=backtest_command)

    s = commands.add_parser("score", help="score INPUT with the current model and write OUTPUT (CSV or Parquet)")
    s.add_argument("input", type=Path)
    s.add_argument("output", type=Path)
    s.add_argument("--model-version", default=None, help="model version (default: CURRENT)")
    s.add_argument("--history", type=Path, default=None, help="earlier transactions, for exact windows")
    s.add_argument("--fx-rates", type=Path, default=None, help="ECB reference-rate CSV/zip (as for backtest)")
    s.add_argument("--reporting-currency", default="USD", help="currency the rules judge amounts in (default USD)")
    s.set_defaults(handler=score_command)


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def backtest_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.fraud.backtest import backtest, read_transactions_file
    from fintech_dataops.lib.fraud.features import FeatureConfig
    from fintech_dataops.lib.fraud.model import ModelConfig

    try:
        train, test = read_transactions_file(args.train), read_transactions_file(args.test)
        rules = _rules(args)
        fx = _fx_rates(args)
        result = backtest(train, test, label_column=args.label_column, rule_config=rules,
                          model_config=ModelConfig(target_fpr=args.target_fpr), fx=fx,
                          feature_config=FeatureConfig(velocity_window_s=rules.velocity_window_s,
                                                       label_delay_days=args.label_delay_days),
                          scenario_column=args.scenario_column)
    except (OSError, KeyError, ValueError) as exc:
        return _error(str(exc).strip("'\""))
    if not args.details:
        result.pop("strategies", None)
    print(json.dumps(result, default=_json_default))
    return 0


def _rules(args: argparse.Namespace):
    """The data dir's active rules (the ones batch scoring and the service use), with the flags given on top."""
    from dataclasses import replace

    from fintech_dataops.lib.fraud.rules import active_rules

    overrides = {"high_value_amount": args.high_value_amount, "velocity_max_transactions": args.velocity_max,
                 "velocity_window_s": args.velocity_window}
    rules = active_rules(resolve_data_dir(args.data_dir) / "models")
    return replace(rules, **{k: v for k, v in overrides.items() if v is not None})


def _fx_rates(args: argparse.Namespace):
    """Rates for a file replay: --fx-rates, else the warehouse's core.fx_rates, else the bundled ECB history."""
    from fintech_dataops.lib import warehouse
    from fintech_dataops.lib.money.fx import FxRates, MoneyConfig, bundled_rates
    from fintech_dataops.lib.money.rates import parse_history

    config = MoneyConfig(reporting_currency=str(getattr(args, "reporting_currency", "USD")).upper())
    if getattr(args, "fx_rates", None):
        return FxRates.from_history(parse_history(Path(args.fx_rates).read_bytes(), source=str(args.fx_rates)), config)
    database = resolve_data_dir(args.data_dir) / "warehouse.duckdb"
    if database.exists():
        try:
            with warehouse.connection(database, read_only=True, wait_seconds=2.0) as con:
                return FxRates.from_warehouse(con, config)
        except warehouse.WarehouseLockTimeout:
            print("warehouse busy: converting with the bundled ECB history", file=sys.stderr)
    return bundled_rates(config)


def score_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.fraud.backtest import read_transactions_file
    from fintech_dataops.lib.fraud.engine import FraudEngine
    from fintech_dataops.lib.fraud.model import current_version, load_model
    from fintech_dataops.lib.fraud.rules import rules_for_model

    models_dir = resolve_data_dir(args.data_dir) / "models"
    try:
        frame = read_transactions_file(args.input)
        history = read_transactions_file(args.history) if args.history else None
        fx = _fx_rates(args)
        if args.model_version or current_version(models_dir):
            model = load_model(models_dir, args.model_version)
            engine = FraudEngine(rules=rules_for_model(models_dir, model), model=model, fx=fx)
        else:
            print(f"no fraud model in {models_dir}: scoring with the rules only", file=sys.stderr)
            engine = FraudEngine(rules=rules_for_model(models_dir), fx=fx)
        scored = engine.score_frame(frame, history=history)
    except (OSError, KeyError, ValueError) as exc:
        return _error(str(exc).strip("'\""))
    if args.output.suffix.lower() in (".parquet", ".pq"):
        out = scored.assign(rule_ids=scored["rule_ids"].map(list), reasons=scored["reasons"].map(list))
    elif args.output.suffix.lower() == ".csv":
        out = scored.assign(rule_ids=scored["rule_ids"].map("|".join), reasons=scored["reasons"].map("; ".join))
    else:
        return _error(f"{args.output}: expected a .csv or .parquet output")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(f".{args.output.name}.tmp")
    if args.output.suffix.lower() == ".csv":
        out.to_csv(tmp, index=False)
    else:
        out.to_parquet(tmp, index=False)
    tmp.replace(args.output)
    counts = scored["decision"].value_counts().to_dict()
    print(json.dumps({"transactions": len(scored), "model_version": engine.model_version,
                      **{d: int(counts.get(d, 0)) for d in ("approve", "review", "block")},
                      "output": str(args.output)}))
    return 0


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)
