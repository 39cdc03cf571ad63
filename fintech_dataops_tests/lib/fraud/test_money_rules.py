"""HIGH_VALUE in the reporting currency, FX_RATE_MISSING, Friday's rate on weekends: one engine, three paths.

Issue 15's "done when": GBP 700 and EUR 760 on a day they exceed $800 are flagged; JPY 900 and USD
800.00 are not; no rate → review with fx_rate_missing; a Sunday uses Friday's ECB rate — identically
in the batch path (``score_frame``), the online path (micro-batches through ``score_batch`` /
``score_arrays``) and the backtest (``fintech-dataops fraud backtest``).
"""

import json

import numpy as np
import pandas as pd
import pytest

from fintech_dataops.cli import main
from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.money.fx import bundled_rates
from fintech_dataops_tests.lib.fraud.helpers import simulated_month

# (id, currency, amount, UTC time, expected rule ids). 2026-10-23 is a Friday, 2026-10-25 a Sunday;
# that Friday 1 EUR = 1.1604 USD = 0.8707 GBP = 177.x JPY (ECB), so GBP 700 ≈ $933 and EUR 760 ≈ $882.
CASES = [
    ("GBP700", "GBP", 700.00, "2026-10-23T10:00:00", ["HIGH_VALUE"]),
    ("EUR760", "EUR", 760.00, "2026-10-23T11:00:00", ["HIGH_VALUE"]),
    ("JPY900", "JPY", 900, "2026-10-23T12:00:00", []),
    ("USD800", "USD", 800.00, "2026-10-23T13:00:00", []),
    ("USD801", "USD", 800.01, "2026-10-23T14:00:00", ["HIGH_VALUE"]),
    ("GBP700SUN", "GBP", 700.00, "2026-10-25T10:00:00", ["HIGH_VALUE"]),
    ("ARS100", "ARS", 100.00, "2026-10-23T15:00:00", ["FX_RATE_MISSING"]),  # the ECB does not quote ARS
]


def cases_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "transaction_id": [c[0] for c in CASES],
        "customer_id": [f"C{i}" for i in range(len(CASES))],  # one each: no velocity in play
        "merchant_id": "M1",
        "amount": [float(c[2]) for c in CASES],
        "currency": [c[1] for c in CASES],
        "event_time": pd.to_datetime([c[3] for c in CASES]),
        "device_id": "D1",
    })


def check(decided: pd.DataFrame) -> None:
    by_id = decided.set_index("transaction_id")
    for tid, _, _, _, rules in CASES:
        row = by_id.loc[tid]
        assert list(row["rule_ids"]) == rules, tid
        assert row["decision"] == ("review" if rules else "approve"), tid
    assert by_id.loc["USD800", "amount_reporting"] == 800.00
    assert by_id.loc["JPY900", "amount_reporting"] < 10
    assert by_id.loc["GBP700SUN", "amount_reporting"] == by_id.loc["GBP700", "amount_reporting"]  # Friday's rate
    assert bool(by_id.loc["ARS100", "fx_rate_missing"]) and np.isnan(by_id.loc["ARS100", "amount_reporting"])
    assert any(r.startswith("fx_rate_missing") for r in by_id.loc["ARS100", "reasons"])
    assert "USD" in by_id.loc["GBP700", "reasons"][0]


def test_batch_path():
    decided = FraudEngine(fx=bundled_rates()).score_frame(cases_frame())
    check(decided)


def test_online_path_one_event_at_a_time():
    engine = FraudEngine(fx=bundled_rates())
    frames = [engine.score_batch(cases_frame().iloc[[i]]) for i in range(len(CASES))]
    check(pd.concat(frames, ignore_index=True))


def test_online_path_through_the_service_arrays_equals_batch():
    frame = cases_frame()
    online = pd.DataFrame(FraudEngine(fx=bundled_rates()).score_batch(frame.to_dict("records")))
    batch = FraudEngine(fx=bundled_rates()).score_frame(frame)
    check(online)
    merged = batch.merge(online, on="transaction_id", suffixes=("_batch", "_online"))
    for column in ("decision", "risk_score"):
        assert (merged[f"{column}_batch"] == merged[f"{column}_online"]).all(), column
    assert np.array_equal(merged["amount_reporting_batch"].to_numpy(), merged["amount_reporting_online"].to_numpy(),
                          equal_nan=True)


def test_rate_hot_swap_changes_the_judgement():
    from fintech_dataops.lib.money.fx import FxRates

    engine = FraudEngine(fx=bundled_rates())
    assert engine.score_one(cases_frame().iloc[6].to_dict())["decision"] == "review"
    # A source that does publish ARS (1 EUR = 1,000 ARS; 1 EUR = 1.16 USD): ARS 100 is ~$0.12, approved.
    engine.set_fx(FxRates(pd.DataFrame({"rate_date": ["2026-10-23", "2026-10-23"], "currency": ["ARS", "USD"],
                                        "rate": [1000.0, 1.16]})))
    decided = engine.score_one({**cases_frame().iloc[6].to_dict(), "transaction_id": "ARS100b"})
    assert decided["decision"] == "approve" and decided["amount_reporting"] == 0.12


@pytest.fixture(scope="module")
def backtest_files(tmp_path_factory):
    tx, _, truth = simulated_month()
    train = tx.merge(truth[["transaction_id", "is_fraud"]], on="transaction_id")
    root = tmp_path_factory.mktemp("money_backtest")
    test = cases_frame().assign(is_fraud=False)
    train.to_parquet(root / "train.parquet", index=False)
    test.assign(event_time=test["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(root / "test.csv", index=False)
    return root


def test_backtest_path(backtest_files, data_dir, capsys):
    root = backtest_files
    assert main(["--data-dir", str(data_dir), "fraud", "backtest", "--train", str(root / "train.parquet"),
                 "--test", str(root / "test.csv")]) == 0
    result = json.loads(capsys.readouterr().out)
    expected_high = sum("HIGH_VALUE" in c[4] for c in CASES)
    assert result["rule_hits"]["HIGH_VALUE"] == expected_high
    assert result["rule_hits"]["FX_RATE_MISSING"] == 1
    assert result["reporting_currency"] == "USD"
    assert result["alerts"] >= expected_high + 1


def test_the_service_hot_reloads_rates_when_a_new_day_lands(tmp_path):
    import duckdb

    from fintech_dataops.lib.realtime.engine_host import EngineHost

    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA core")
        con.execute("CREATE TABLE core.fx_rates (rate_date DATE, currency VARCHAR, rate DECIMAL(18,8), "
                    "partition_date DATE, source_file VARCHAR, line_number BIGINT)")
        con.execute("INSERT INTO core.fx_rates VALUES ('2026-11-27', 'USD', 1.05, '2026-11-27', 'f', 1), "
                    "('2026-11-27', 'ARS', 1000, '2026-11-27', 'f', 2)")
    host = EngineHost(FraudEngine(), tmp_path / "models")
    event = {**cases_frame().iloc[6].to_dict(), "event_time": pd.Timestamp("2026-11-28T10:00:00")}
    assert host.score([event])["decision"].iloc[0] == "review"  # bundled ECB: no ARS
    assert host.prepare_fx_reload(database) is not None
    host.adopt_pending()
    decided = host.score([{**event, "transaction_id": "A2"}]).iloc[0]
    # 100 / 1000 × 1.05 = 0.105 exactly: half-to-even gives 0.10 (float64 made it 0.10500000000000001 → 0.11)
    assert decided["decision"] == "approve" and decided["amount_reporting"] == 0.10
    assert host.prepare_fx_reload(database) is None  # nothing new
    with duckdb.connect(str(database)) as con:
        con.execute("INSERT INTO core.fx_rates VALUES ('2026-11-30', 'USD', 1.10, '2026-11-30', 'g', 1)")
    assert host.prepare_fx_reload(database) is not None
    host.adopt_pending()
    assert host.fx_status["latest_rate_day"] == "2026-11-30" and host.fx_reloads == 2
