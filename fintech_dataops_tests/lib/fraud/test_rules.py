import pandas as pd
import pytest

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.fraud.rules import HIGH_VALUE, VELOCITY, RuleConfig
from fintech_dataops_tests.lib.fraud.helpers import tx_frame


def decisions(frame, history=None, rules=None):
    scored = FraudEngine(rules=rules).score_frame(frame, history=history)
    return scored.set_index("transaction_id")


@pytest.mark.parametrize(("amount", "flagged"), [(799.99, False), (800.0, False), (800.01, True), (5000, True)])
def test_high_value_is_strictly_above_800(amount, flagged):
    out = decisions(tx_frame([("t1", "c1", 0, amount)]))
    assert (HIGH_VALUE in out.loc["t1", "rule_ids"]) is flagged
    assert out.loc["t1", "decision"] == ("review" if flagged else "approve")
    if flagged:
        assert any("HIGH_VALUE" in r and f"{amount:,.2f}" in r for r in out.loc["t1", "reasons"])


def test_every_high_value_transaction_is_flagged_without_time_window():
    frame = tx_frame([(f"t{i}", f"c{i % 3}", i * 86_400, 800.01 + i) for i in range(10)])
    out = decisions(frame)
    assert all(HIGH_VALUE in ids for ids in out["rule_ids"])
    assert (out["decision"] != "approve").all()


def test_high_value_threshold_is_configuration():
    frame = tx_frame([("t1", "c1", 0, 900.0)])
    assert decisions(frame, rules=RuleConfig(high_value_amount=1000)).loc["t1", "rule_ids"] == []
    assert decisions(frame, rules=RuleConfig(high_value_enabled=False)).loc["t1", "decision"] == "approve"
    assert decisions(frame, rules=RuleConfig(high_value_action="block")).loc["t1", "decision"] == "block"


def test_three_transactions_in_ten_seconds_are_not_flagged():
    out = decisions(tx_frame([("t1", "c1", 0, 5), ("t2", "c1", 4, 5), ("t3", "c1", 9.9, 5)]))
    assert not any(VELOCITY in ids for ids in out["rule_ids"])


def test_fourth_transaction_within_ten_seconds_is_flagged_and_only_it():
    out = decisions(tx_frame([("t1", "c1", 0, 5), ("t2", "c1", 3, 5), ("t3", "c1", 6, 5), ("t4", "c1", 9.999, 5)]))
    flagged = {tx for tx, ids in out["rule_ids"].items() if VELOCITY in ids}
    assert flagged == {"t4"}
    assert "4 transactions" in " ".join(out.loc["t4", "reasons"])


def test_window_is_half_open_four_spanning_exactly_ten_seconds_is_not_flagged():
    out = decisions(tx_frame([("t1", "c1", 0, 5), ("t2", "c1", 3, 5), ("t3", "c1", 6, 5), ("t4", "c1", 10.0, 5)]))
    assert not any(VELOCITY in ids for ids in out["rule_ids"])


def test_every_transaction_completing_a_window_is_flagged():
    rows = [(f"t{i}", "c1", i * 1.5, 5) for i in range(7)]  # 7 tx 1.5 s apart: t3..t6 complete a window
    out = decisions(tx_frame(rows))
    flagged = sorted(tx for tx, ids in out["rule_ids"].items() if VELOCITY in ids)
    assert flagged == ["t3", "t4", "t5", "t6"]


def test_velocity_counts_per_customer_and_by_event_time_not_row_order():
    rows = [("a1", "c1", 0, 5), ("b1", "c2", 1, 5), ("a2", "c1", 2, 5), ("b2", "c2", 3, 5), ("a3", "c1", 4, 5)]
    frame = tx_frame(rows)
    assert not any(VELOCITY in ids for ids in decisions(frame)["rule_ids"])
    burst = tx_frame([("x4", "c9", 8, 5), ("x1", "c9", 0, 5), ("x3", "c9", 6, 5), ("x2", "c9", 2, 5)])
    out = decisions(burst)
    assert {tx for tx, ids in out["rule_ids"].items() if VELOCITY in ids} == {"x4"}


def test_velocity_window_straddles_the_partition_boundary():
    midnight = pd.Timestamp("2026-03-11 00:00:00")
    day1_tail = tx_frame([("t1", "c1", -7, 5), ("t2", "c1", -5, 5), ("t3", "c1", -2, 5)], start=midnight)
    day2 = tx_frame([("t4", "c1", 1, 5), ("t5", "c1", 30, 5)], start=midnight)
    assert set(day2["partition_date"]) != set(day1_tail["partition_date"])
    with_tail = decisions(day2, history=day1_tail)
    assert VELOCITY in with_tail.loc["t4", "rule_ids"]
    assert VELOCITY not in with_tail.loc["t5", "rule_ids"]
    # Without the previous day's tail, the window would be missed: the history is what makes it exact.
    assert VELOCITY not in decisions(day2).loc["t4", "rule_ids"]


def test_velocity_limit_and_window_are_configuration():
    frame = tx_frame([("t1", "c1", 0, 5), ("t2", "c1", 3, 5), ("t3", "c1", 6, 5), ("t4", "c1", 9, 5)])
    assert not any(VELOCITY in ids for ids in decisions(frame, rules=RuleConfig(velocity_max_transactions=4))["rule_ids"])
    narrow = decisions(frame, rules=RuleConfig(velocity_window_s=5))
    assert not any(VELOCITY in ids for ids in narrow["rule_ids"])


def test_rule_config_rejects_unknown_action():
    with pytest.raises(ValueError):
        RuleConfig(velocity_action="delete")
