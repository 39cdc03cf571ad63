"""The feature query over core tables: aggregation, missing sources, isolation, one-customer path."""

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from fintech_dataops.lib.credit.features import build_features, default_as_of
from fintech_dataops.lib.credit.sample import write_core_tables
from fintech_dataops.lib.credit.scoring import score_portfolio

T0 = dt.datetime(2026, 10, 1, 12, 0)
AS_OF = dt.datetime(2026, 10, 31)


def _customers(ids):
    return pd.DataFrame({
        "customer_id": ids, "full_name": "x", "email": "x@example.com", "country": "US", "birth_year": 1990,
        "signup_time": [T0 - dt.timedelta(days=400 + i) for i in range(len(ids))],
        "declared_monthly_income": 3000.0, "segment": "mass",
    })


def _tx(rows):
    return pd.DataFrame([{
        "transaction_id": f"T{i}", "customer_id": c, "merchant_id": "M1", "amount": a, "currency": "USD",
        "event_time": T0 + dt.timedelta(days=d), "channel": "ecommerce", "merchant_category": "grocery",
        "country": "US", "device_id": "D1",
    } for i, (c, a, d) in enumerate(rows)])


def _bills(rows, telco=False):
    frame = pd.DataFrame([{
        "payment_id": f"{'TP' if telco else 'UP'}{i}", "customer_id": c, "provider": p, "bill_amount": b,
        "amount_paid": paid, "currency": "USD", "due_date": T0.date() + dt.timedelta(days=due),
        "paid_date": None if paid_day is None else T0.date() + dt.timedelta(days=paid_day),
        "event_time": T0 + dt.timedelta(days=due + 1),
    } for i, (c, p, b, paid, due, paid_day) in enumerate(rows)])
    if telco:
        frame["plan_type"] = "postpaid"
    for column in ("due_date", "paid_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def _public(rows):
    return pd.DataFrame([{
        "record_id": f"P{i}", "customer_id": c, "academic_score": s, "education_level": "bachelor",
        "graduation_year": 2010, "bankruptcies": b, "as_of_time": T0 + dt.timedelta(hours=i),
    } for i, (c, s, b) in enumerate(rows)])


def _feeds(ids=("A", "B", "C")):
    return {
        "customers": _customers(list(ids)),
        "transactions": _tx([("A", 10.0, 0), ("A", 30.0, 0), ("A", 20.0, 3), ("B", 50.0, 1), ("C", 5.0, 2)]),
        "public_records": _public([("A", 40.0, 0), ("A", 80.0, 1), ("B", 70.0, 0)]),
        "utility_payments": _bills([
            ("A", "power", 100.0, 100.0, 5, 3),     # on time, in full
            ("A", "water", 50.0, 20.0, 6, 9),       # late and partial
            ("B", "power", 80.0, 0.0, 2, None),     # unpaid
        ]),
        "telco_payments": _bills([("C", "mobiwave", 40.0, 40.0, 4, 4)], telco=True),
    }


def features_for(feeds) -> pd.DataFrame:
    con = duckdb.connect()
    write_core_tables(con, feeds)
    return build_features(con, as_of=AS_OF).set_index("customer_id")


def test_features_aggregate_each_source_per_customer():
    f = features_for(_feeds())
    assert list(f.index) == ["A", "B", "C"]
    assert f.loc["A", "tx_count"] == 3 and f.loc["A", "tx_active_days"] == 2 and f.loc["A", "tx_spend"] == 60.0
    assert f.loc["A", "academic_score"] == 80.0 and f.loc["A", "bankruptcies"] == 1   # latest record wins
    assert (f.loc["A", ["utility_bills", "utility_late", "utility_partial", "utility_unpaid", "utility_accounts"]]
            .tolist() == [2, 1, 1, 0, 2])
    assert f.loc["B", "utility_unpaid"] == 1 and f.loc["C", "telco_bills"] == 1 and f.loc["A", "telco_bills"] == 0
    assert pd.isna(f.loc["C", "academic_score"]) and not f.loc["C", "has_public_record"]
    assert f.loc["A", "tenure_days"] == (AS_OF.date() - (T0 - dt.timedelta(days=400)).date()).days  # calendar days


def test_missing_tables_are_empty_sources_not_errors():
    con = duckdb.connect()
    write_core_tables(con, {"customers": _customers(["A"])})
    features = build_features(con, as_of=AS_OF)
    assert len(features) == 1 and features.loc[0, "tx_count"] == 0 and features.loc[0, "utility_bills"] == 0
    scored = score_portfolio(features)
    assert pd.isna(scored.loc[0, "score"]) and scored.loc[0, "band"] == "no_score"


def test_a_customers_nan_amount_or_missing_record_cannot_break_other_customers():
    clean = _feeds(("A", "B", "C"))
    dirty = _feeds(("A", "B", "C", "X"))
    # core amounts are DECIMAL now: a missing amount (NULL) is the bad value a core table can still hold
    dirty["transactions"] = pd.concat([dirty["transactions"], _tx([("X", np.nan, 1), ("X", 15.0, 3)])],
                                      ignore_index=True)
    dirty["utility_payments"] = pd.concat([dirty["utility_payments"],
                                           _bills([("X", "power", np.nan, np.nan, 3, 4)])], ignore_index=True)
    dirty["customers"].loc[dirty["customers"]["customer_id"] == "X", "declared_monthly_income"] = np.nan
    before = score_portfolio(features_for(clean).reset_index())
    after = score_portfolio(features_for(dirty).reset_index())
    pd.testing.assert_frame_equal(before, after[after["customer_id"] != "X"].reset_index(drop=True))
    x = after.set_index("customer_id").loc["X"]
    assert 300 <= x["score"] <= 850 and np.isnan(x["academic"]) and np.isnan(x["spending_power"])
    fx = features_for(dirty).loc["X"]
    assert fx["tx_count"] == 2 and fx["tx_invalid_amounts"] == 1 and fx["tx_spend"] == 15.0


def test_one_customer_query_matches_the_portfolio_row():
    con = duckdb.connect()
    write_core_tables(con, _feeds())
    as_of = default_as_of(con)
    everyone = build_features(con, as_of=as_of).set_index("customer_id")
    for customer in ("A", "B", "C"):
        one = build_features(con, as_of=as_of, customer_id=customer).set_index("customer_id")
        expected = everyone.loc[[customer]]
        assert one.astype(object).where(one.notna(), None).to_dict("records") == \
            expected.astype(object).where(expected.notna(), None).to_dict("records")
        pd.testing.assert_frame_equal(score_portfolio(one.reset_index()), score_portfolio(expected.reset_index()))
    assert build_features(con, as_of=as_of, customer_id="nobody").empty


def test_default_as_of_is_the_latest_input_event():
    con = duckdb.connect()
    write_core_tables(con, _feeds())
    assert default_as_of(con) == pytest.approx(T0 + dt.timedelta(days=7), abs=dt.timedelta(0))


def test_an_empty_warehouse_gives_empty_features_and_scores():
    con = duckdb.connect()
    features = build_features(con)
    scored = score_portfolio(features)
    assert features.empty and scored.empty and {"score", "band", "reason_1"} <= set(scored.columns)
