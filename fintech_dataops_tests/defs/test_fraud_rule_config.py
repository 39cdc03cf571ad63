"""One source for the fraud rules (issue 14, item 4): the $800 HIGH_VALUE threshold and the VELOCITY
rule are RuleConfig defaults; Dagster Config and CLI flags derive from them, and batch scoring, the
online service and the CLI backtest read the same configured rules — also when they are not the defaults.
"""

from __future__ import annotations

import argparse
import logging

import dagster as dg

from fintech_dataops.lib.fraud.rules import RuleConfig


def test_config_defaults_are_the_lib_defaults():
    from fintech_dataops.defs.fraud.assets import RULE_FIELDS, FraudFeaturesConfig, FraudModelConfig

    defaults = RuleConfig()
    assert FraudModelConfig().rules() == RuleConfig(velocity_window_s=defaults.velocity_window_s)
    assert {name: getattr(FraudModelConfig(), name) for name in RULE_FIELDS} == \
        {name: getattr(defaults, name) for name in RULE_FIELDS}
    assert FraudFeaturesConfig().velocity_window_s == defaults.velocity_window_s


def _backtest_args(data_dir, *flags: str) -> argparse.Namespace:
    from fintech_dataops.commands import fraud

    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=str(data_dir))
    fraud.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["fraud", "backtest", "--train", "a.csv", "--test", "b.csv", *flags])


def test_batch_online_and_backtest_score_with_the_same_configured_rules(resources, data_dir):
    from fintech_dataops.commands.fraud import _rules as backtest_rules
    from fintech_dataops.defs.fraud.assets import FraudScoringConfig, _engine, fraud_model
    from fintech_dataops.lib.fraud.rules import HIGH_VALUE, active_rules, evaluate_rules
    from fintech_dataops.lib.realtime.engine_host import engine_for

    configured = {"high_value_amount": 500.0, "velocity_max_transactions": 5, "high_value_action": "block"}
    result = dg.materialize([fraud_model], resources=resources,
                            run_config={"ops": {"fraud__model": {"config": configured}}})
    assert result.success  # no warehouse yet: not trained, but the rules are the data dir's from now on

    models_dir = data_dir / "models"
    batch = _engine(FraudScoringConfig(), resources["data_dir"], logging.getLogger(__name__)).rules
    online = engine_for(models_dir).rules
    backtest = backtest_rules(_backtest_args(data_dir))
    expected = RuleConfig(**configured)
    assert batch == online == backtest == active_rules(models_dir) == expected

    # The same decision on every path: a $600 transaction is a HIGH_VALUE block under the configured rules.
    features = {"amount": [600.0, 400.0], "velocity_count": [1, 1]}
    for rules in (batch, online, backtest):
        hits = evaluate_rules(features, rules)
        assert hits.hits[HIGH_VALUE].tolist() == [True, False] and hits.actions[HIGH_VALUE] == "block"

    # A flag given on the command line is a what-if on top of the active rules.
    assert backtest_rules(_backtest_args(data_dir, "--high-value-amount", "900")) == \
        RuleConfig(**{**configured, "high_value_amount": 900.0})
