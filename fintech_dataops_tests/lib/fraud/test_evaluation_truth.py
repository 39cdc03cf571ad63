"""The demo's fraud evaluation: labels to date (chargebacks still arriving) next to the simulator's truth."""

from datetime import date, datetime, timedelta

import duckdb
import pandas as pd

from fintech_dataops.lib.fraud.evaluation import GROUND_TRUTH, LABELS_TO_DATE, read_truth, write_truth
from fintech_dataops.lib.fraud.warehouse_io import SCORED_TABLE, evaluate_scored, write_partitions
from fintech_dataops.lib.open_banking.tables import FRAUD_LABEL_COLUMNS

DAY = date(2026, 11, 20)


def _scored(n: int, alerted: set[int]) -> pd.DataFrame:
    return pd.DataFrame({
        "transaction_id": [f"t{i}" for i in range(n)], "customer_id": [f"c{i}" for i in range(n)],
        "merchant_id": ["m1"] * n, "amount": [20.0] * n, "currency": ["USD"] * n,
        "event_time": [datetime.combine(DAY, datetime.min.time()) + timedelta(minutes=i) for i in range(n)],
        "partition_date": pd.to_datetime([DAY] * n),
        "risk_score": [0.9 if i in alerted else 0.01 for i in range(n)],
        "model_score": [0.9 if i in alerted else 0.01 for i in range(n)],
        "decision": ["review" if i in alerted else "approve" for i in range(n)],
        "rule_ids": [[] for _ in range(n)], "reasons": [["MODEL"] if i in alerted else [] for i in range(n)],
        "discretionary_alert": [i in alerted for i in range(n)], "model_version": ["v1"] * n,
    })


def test_an_alert_on_a_fraud_not_charged_back_yet_is_a_false_positive_only_against_labels_to_date(tmp_path):
    """The demo month's 'FPR above 0.1 %' was this: every model false positive of its newest week was a
    fraud whose chargeback (1-20 days late) had not landed. Against the truth it is no false positive."""
    con = duckdb.connect(":memory:")
    con.execute("CREATE SCHEMA fraud; CREATE SCHEMA core")
    write_partitions(con, SCORED_TABLE, _scored(20, alerted={0, 1}), [DAY], ("rule_ids", "reasons"))
    label = {c: None for c in FRAUD_LABEL_COLUMNS} | {
        "transaction_id": "t0", "is_fraud": True, "reported_time": datetime(2026, 11, 22)}
    con.register("_labels", pd.DataFrame([label]))
    con.execute("CREATE TABLE core.fraud_labels AS SELECT * FROM _labels")
    # t1: fraud (truth), chargeback not arrived yet.
    write_truth(tmp_path, pd.DataFrame({"transaction_id": ["t0", "t1", "t2"], "is_fraud": [True, True, False],
                                        "scenario": ["account_takeover", "card_testing", "none"]}))
    truth = read_truth(tmp_path)
    assert read_truth(tmp_path / "elsewhere") is None

    result = evaluate_scored(con, out_of_sample_after=None, review_threshold=0.5, truth=truth)
    table = result.table.set_index(["labels", "strategy"])
    to_date, true = table.loc[(LABELS_TO_DATE, "combined")], table.loc[(GROUND_TRUTH, "combined")]
    assert (to_date["frauds"], to_date["false_positives"]) == (1, 1)
    assert to_date["false_positive_rate_discretionary"] == 1 / 19
    assert (true["frauds"], true["false_positives"], true["recall"]) == (2, 0, 1.0)
    assert true["false_positive_rate_discretionary"] == 0.0
    assert set(result.truth_comparison) == {"rules_only", "model_only", "combined"}

    without = evaluate_scored(con, out_of_sample_after=None, review_threshold=0.5)
    assert set(without.table["labels"]) == {LABELS_TO_DATE} and without.truth_comparison == {}
