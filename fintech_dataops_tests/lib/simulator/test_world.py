"""The deterministic simulator: ground truth, scenarios, malformed lines, landing layout (no dagster)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re

import numpy as np
import orjson
import pandas as pd
import pytest

from fintech_dataops.lib.ingestion.feeds import FEED_NAMES, FEEDS
from fintech_dataops.lib.simulator.world import (
    EXTRA_KINDS,
    FRAUD_SCENARIOS,
    SCENARIOS,
    Simulation,
    SimulationConfig,
    land_simulation,
    render_feed,
    render_feed_lines,
    simulate,
)

START = dt.date(2026, 10, 1)
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture(scope="module")
def sim() -> Simulation:
    """The smallest run every scenario is promised for: 1000 customers, 7 days."""
    return simulate(SimulationConfig(start=START, days=7, customers=1000, seed=11))


@pytest.fixture(scope="module")
def tiny_config() -> SimulationConfig:
    return SimulationConfig(start=START, days=3, customers=300, seed=5, malformed_rate=0.01)


def with_config(sim: Simulation, **changes) -> Simulation:
    """Same records, other rendering settings (malformed rate)."""
    return dataclasses.replace(sim, config=dataclasses.replace(sim.config, **changes))


def window_ms(sim: Simulation) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(sim.config.start, tz="UTC")
    return start, start + pd.Timedelta(days=sim.config.days)


# --------------------------------------------------------------------------- determinism and shape


def test_same_seed_same_lines_and_other_seed_other_lines(tiny_config):
    a, b = simulate(tiny_config), simulate(tiny_config)
    for feed in FEED_NAMES:
        pd.testing.assert_frame_equal(a.feeds[feed], b.feeds[feed])
        assert render_feed_lines(a, feed) == render_feed_lines(b, feed), feed
    pd.testing.assert_frame_equal(a.truth, b.truth)
    other = simulate(dataclasses.replace(tiny_config, seed=6))
    assert render_feed_lines(other, "transactions") != render_feed_lines(a, "transactions")
    assert render_feed_lines(other, "customers") != render_feed_lines(a, "customers")


def test_every_feed_has_exactly_its_fields(sim):
    assert set(sim.feeds) == set(FEED_NAMES)
    for feed in FEED_NAMES:
        frame = sim.feeds[feed]
        assert list(frame.columns) == list(FEEDS[feed].fields), feed
        assert len(frame) > 0, feed
        assert frame[FEEDS[feed].id_field].is_unique, feed
    assert list(sim.truth.columns) == ["transaction_id", "customer_id", "is_fraud", "scenario"]
    assert sim.truth["transaction_id"].tolist() == sim.feeds["transactions"]["transaction_id"].tolist()
    assert list(sim.customer_truth.columns) == ["customer_id", "latent_risk", "thin_file", "fraud_victim"]
    assert sim.customer_truth["latent_risk"].between(0, 1).all()


def test_every_good_line_is_strict_json_with_exactly_the_fields(sim):
    for feed in FEED_NAMES:
        rendered = render_feed(sim, feed)
        bad = {(day, i) for day, marks in rendered.malformed.items() for i, _ in marks}
        good = 0
        for day, lines in rendered.lines.items():
            for i, line in enumerate(lines):
                if (day, i) in bad:
                    continue
                record = orjson.loads(line)
                assert list(record) == list(FEEDS[feed].fields), (feed, line)
                time_value = record[FEEDS[feed].time_field]
                assert TS_RE.match(time_value), (feed, line)
                landed_on = max(dt.date.fromisoformat(time_value[:10]), START) if feed == "customers" \
                    else dt.date.fromisoformat(time_value[:10])
                assert landed_on == day, (feed, line)
                good += 1
        assert good == len(sim.feeds[feed]) - sum(
            kind not in EXTRA_KINDS for marks in rendered.malformed.values() for _, kind in marks
        ), feed


def test_value_formats(sim):
    lines = [orjson.loads(x) for x in render_feed_lines(with_config(sim, malformed_rate=0.0), "utility_payments")[START]]
    assert all(DATE_RE.match(r["due_date"]) for r in lines)
    assert any(r["paid_date"] is None for r in sum(
        ([orjson.loads(x) for x in v] for v in render_feed_lines(with_config(sim, malformed_rate=0.0),
                                                                 "utility_payments").values()), []))
    tx_line = render_feed_lines(with_config(sim, malformed_rate=0.0), "transactions")[START][0]
    assert re.search(r'"amount":\d+\.\d{2},', tx_line)
    record = orjson.loads(tx_line)
    assert re.match(r"^T\d{10}$", record["transaction_id"]) and re.match(r"^C\d{7}$", record["customer_id"])
    assert re.match(r"^M\d{5}$", record["merchant_id"])
    tx = sim.feeds["transactions"]
    assert tx["currency"].value_counts().index[0] == "USD"
    # Merchants abroad charge in their currency, in its minor units (issue 15): whole yen, 3-decimal dinars.
    assert set(tx["currency"]) == {"USD", "EUR", "GBP", "JPY", "BHD"}
    jpy = tx[tx["currency"] == "JPY"]
    assert (jpy["amount"] == jpy["amount"].round(0)).all() and set(jpy["country"]) == {"JP"}
    assert jpy["amount"].median() > 20 * tx.loc[tx["currency"] == "USD", "amount"].median()
    assert set(tx["channel"]) == {"card_present", "ecommerce", "contactless", "atm"}
    assert (tx["amount"] == tx["amount"].round(2)).all() and (tx["amount"] > 0).all()


def test_customers_signed_up_before_the_window_land_on_day_one(sim):
    lines = render_feed_lines(with_config(sim, malformed_rate=0.0), "customers")
    before = (sim.feeds["customers"]["signup_time"] < pd.Timestamp(START, tz="UTC")).sum()
    assert before > 0.9 * len(sim.feeds["customers"])
    assert len(lines[START]) >= before
    assert sum(len(v) for v in lines.values()) == len(sim.feeds["customers"])


# --------------------------------------------------------------------------- transactions and fraud


def test_every_scenario_is_present_at_a_sensible_rate(sim):
    counts = sim.truth["scenario"].value_counts()
    assert set(counts.index) == set(SCENARIOS)
    fraud = sim.truth["is_fraud"]
    assert fraud.equals(sim.truth["scenario"].isin(FRAUD_SCENARIOS))
    assert 0.002 <= fraud.mean() <= 0.008
    tx = sim.feeds["transactions"]
    start, end = window_ms(sim)
    assert tx["event_time"].between(start, end, inclusive="left").all()
    assert tx["event_time"].is_monotonic_increasing
    legit = sim.rates.fx.annotate(tx[~fraud.to_numpy()])  # judged in dollars, whatever the currency
    assert (legit["amount_reporting"] > 800).mean() < 0.006


def _scenario(sim: Simulation, name: str) -> pd.DataFrame:
    tx = sim.feeds["transactions"]
    return tx[(sim.truth["scenario"] == name).to_numpy()]


def test_account_takeover_bursts_follow_a_foreign_device_change(sim):
    ato = _scenario(sim, "account_takeover")
    events = sim.feeds["consumer_events"]
    home = sim.feeds["customers"].set_index("customer_id")["country"]
    for (customer, device), burst in ato.groupby(["customer_id", "device_id"]):
        times = burst["event_time"].sort_values()
        assert len(times) > 3
        assert times.iloc[-1] - times.iloc[0] < pd.Timedelta(seconds=10)
        gaps = times.diff().dropna()
        assert (gaps >= pd.Timedelta(seconds=1)).all() and (gaps <= pd.Timedelta(seconds=2)).all()
        change = events[(events["customer_id"] == customer) & (events["device_id"] == device)
                        & events["event_type"].isin(["password_change", "device_change"])]
        assert len(change) == 1
        lead = times.iloc[0] - change["event_time"].iloc[0]
        assert pd.Timedelta(0) < lead < pd.Timedelta(hours=1)
        assert change["ip_country"].iloc[0] != home[customer]
        # the device is new: never used by this customer before the takeover
        earlier = sim.feeds["transactions"]
        earlier = earlier[(earlier["customer_id"] == customer) & (earlier["event_time"] < times.iloc[0])]
        assert device not in set(earlier["device_id"])


def test_card_testing_probes_then_high_value(sim):
    ct = _scenario(sim, "card_testing")
    assert len(ct) > 0
    for _, attack in ct.groupby("device_id"):
        attack = attack.sort_values("event_time")
        probes = attack[attack["amount"] <= 5]
        high = attack[attack["amount"] >= 900]
        assert len(probes) >= 2 and 1 <= len(high) <= 3 and len(probes) + len(high) == len(attack)
        assert probes["merchant_id"].is_unique
        assert probes["event_time"].max() < high["event_time"].min()
        assert (high["amount"] <= 3000).all() and (probes["amount"] >= 0.5).all()


def test_compromised_merchants_are_fraud_for_a_few_consecutive_days(sim):
    cm = _scenario(sim, "compromised_merchant")
    tx = sim.feeds["transactions"]
    scenario = sim.truth["scenario"].to_numpy()
    assert cm["merchant_id"].nunique() >= 1
    for merchant, rows in cm.groupby("merchant_id"):
        days = rows["event_time"].dt.floor("D")
        assert (days.max() - days.min()).days < 7
        inside = (tx["merchant_id"] == merchant) & tx["event_time"].between(days.min(), days.max() + pd.Timedelta(days=1),
                                                                            inclusive="left")
        assert set(scenario[inside.to_numpy()]) <= {"compromised_merchant", "card_testing", "account_takeover",
                                                    "amount_jump", "legit_burst"}
        assert (scenario[inside.to_numpy()] == "compromised_merchant").sum() == len(rows)


def test_amount_jump_is_a_jump_but_mostly_under_800(sim):
    aj = _scenario(sim, "amount_jump")
    tx = sim.feeds["transactions"]
    normal = tx[(sim.truth["scenario"] == "none").to_numpy()].groupby("customer_id")["amount"].median()
    ratio = aj.groupby("customer_id")["amount"].median() / normal.reindex(aj["customer_id"].unique())
    assert ratio.dropna().median() > 3
    assert (aj["amount"] < 800).mean() > 0.7
    for _, rows in aj.groupby("customer_id"):
        span = rows["event_time"].dt.floor("D")
        assert (span.max() - span.min()).days <= 1


def test_legit_bursts_are_not_fraud(sim):
    burst = sim.truth[sim.truth["scenario"] == "legit_burst"]
    assert len(burst) >= 4 and not burst["is_fraud"].any()
    for _, rows in _scenario(sim, "legit_burst").groupby("customer_id"):
        assert len(rows) % 4 == 0
        times = rows["event_time"].sort_values()
        assert times.iloc[3] - times.iloc[0] < pd.Timedelta(seconds=10)


def test_labels_arrive_after_their_transactions_and_only_inside_the_window(sim):
    labels = sim.feeds["fraud_labels"]
    tx = sim.feeds["transactions"].set_index("transaction_id")
    truth = sim.truth.set_index("transaction_id")
    assert len(labels) > 0 and labels["is_fraud"].all()
    assert truth.loc[labels["transaction_id"], "is_fraud"].all()
    assert (truth.loc[labels["transaction_id"], "scenario"].to_numpy() == labels["fraud_type"].to_numpy()).all()
    delay = labels["reported_time"].to_numpy() - tx.loc[labels["transaction_id"], "event_time"].to_numpy()
    assert (delay >= np.timedelta64(1, "D")).all() and (delay <= np.timedelta64(20, "D")).all()
    assert np.allclose(labels["amount"].to_numpy(), tx.loc[labels["transaction_id"], "amount"].to_numpy())
    _, end = window_ms(sim)
    assert (labels["reported_time"] < end).all()


def test_future_labels_land_only_when_asked(tiny_config):
    config = dataclasses.replace(tiny_config, land_future_labels=True, label_coverage=1.0)
    sim = simulate(config)
    labels = sim.feeds["fraud_labels"]
    assert len(labels) == sim.truth["is_fraud"].sum()
    _, end = window_ms(sim)
    assert (labels["reported_time"] >= end).any()
    days = render_feed_lines(sim, "fraud_labels")
    assert max(days) >= config.end


# --------------------------------------------------------------------------- credit data


def test_thin_file_customers_have_only_alternative_data(sim):
    ct = sim.customer_truth
    thin = set(ct.loc[ct["thin_file"], "customer_id"])
    assert 0.1 < len(thin) / len(ct) < 0.3
    assert thin.isdisjoint(sim.feeds["transactions"]["customer_id"])
    assert thin.isdisjoint(sim.feeds["partner_loans"]["customer_id"])
    alternative = (set(sim.feeds["utility_payments"]["customer_id"]) | set(sim.feeds["telco_payments"]["customer_id"])
                   | set(sim.feeds["public_records"]["customer_id"]))
    assert len(thin & alternative) / len(thin) > 0.9
    assert len(thin & set(sim.feeds["consumer_events"]["customer_id"])) / len(thin) > 0.9
    assert len(thin - set(sim.feeds["public_records"]["customer_id"])) > 0   # some lack a public record


def test_partner_loans_show_tenure_and_statuses(sim):
    loans = sim.feeds["partner_loans"]
    assert set(loans["status"]) <= {"current", "paid_off", "late", "default"}
    assert {"current", "late"} <= set(loans["status"])
    assert (loans["opened_date"] < pd.Timestamp(START) - pd.Timedelta(days=365)).any()
    assert (loans.loc[loans["status"] == "current", "days_past_due"] == 0).all()
    assert (loans.loc[loans["status"] == "late", "days_past_due"] > 0).all()


@pytest.fixture(scope="module")
def credit_sim() -> Simulation:
    return simulate(SimulationConfig(start=START, days=30, customers=20_000, seed=3,
                                     transactions_per_customer_day=0.05))


def test_loan_outcomes_are_matured_vintages_whose_default_rate_follows_latent_risk(credit_sim):
    out = credit_sim.feeds["loan_outcomes"]
    apps = credit_sim.feeds["loan_applications"]
    # pending applications (the window) have no outcome yet; the book's outcomes are earlier vintages
    assert not set(out["application_id"]) & set(apps["application_id"])
    assert (out["months_observed"] == 12).all()
    window_end = pd.Timestamp(START + dt.timedelta(days=30), tz="UTC")
    assert out["observed_time"].between(pd.Timestamp(START, tz="UTC"), window_end, inclusive="left").all()
    months_back = (window_end - out["applied_time"]).dt.total_seconds() / 86400 / 30.44
    assert months_back.min() >= 13 - 1e-9 and months_back.max() <= 36 + 1e-9
    assert out["applied_time"].dt.to_period("M").nunique() >= 20           # many vintages
    signup = out["customer_id"].map(credit_sim.feeds["customers"].set_index("customer_id")["signup_time"])
    assert (out["applied_time"] >= signup).all()                          # customers apply after signing up
    assert 0.08 <= out["defaulted"].mean() <= 0.18
    truth = credit_sim.loan_truth.set_index("application_id")["default_probability"]
    p = out["application_id"].map(truth)
    assert p.notna().all() and abs(p.mean() - out["defaulted"].mean()) < 0.01
    high = (p > p.median()).to_numpy()
    assert out.loc[high, "defaulted"].mean() > 2 * out.loc[~high, "defaulted"].mean()
    thin = set(credit_sim.customer_truth.loc[credit_sim.customer_truth["thin_file"], "customer_id"])
    assert apps["customer_id"].isin(thin).any() and out["customer_id"].isin(thin).any()


def test_demo_population_has_enough_outcomes_to_validate_on():
    sim = simulate(SimulationConfig(start=START, days=30, customers=3000, seed=42,
                                    transactions_per_customer_day=0.05))
    out = sim.feeds["loan_outcomes"]
    assert len(out) >= 2000 and out["defaulted"].sum() >= 200
    assert "default_probability" not in set().union(*(frame.columns for frame in sim.feeds.values()))


def test_alternative_data_correlates_with_latent_risk(credit_sim):
    risk = credit_sim.customer_truth.set_index("customer_id")["latent_risk"]
    public = credit_sim.feeds["public_records"]
    assert np.corrcoef(public["academic_score"], public["customer_id"].map(risk))[0, 1] < -0.3
    bills = credit_sim.feeds["utility_payments"]
    late = bills["paid_date"].isna() | (bills["paid_date"] > bills["due_date"])
    high = bills["customer_id"].map(risk) > risk.median()
    assert late[high.to_numpy()].mean() > 1.5 * late[~high.to_numpy()].mean()
    assert (bills["amount_paid"] < bills["bill_amount"]).any()


def test_bill_feeds_carry_twelve_months_of_payment_history_reported_in_the_window(credit_sim):
    """Issue 17: a bureau-like payment history (12 months per account), all of it reported inside the window."""
    window_start = pd.Timestamp(START, tz="UTC")
    window_end = window_start + pd.Timedelta(days=30)
    for feed in ("utility_payments", "telco_payments"):
        bills = credit_sim.feeds[feed]
        assert bills["event_time"].between(window_start, window_end, inclusive="left").all()
        months_back = (pd.Timestamp(START) - bills["due_date"]).dt.days / 30.44
        assert months_back.max() <= 12.01 and months_back.max() > 11.5
        per_account = bills.groupby(["customer_id", "provider"])["due_date"].nunique()
        assert per_account.median() >= 12                       # a year of bills, not one
        settled = bills["paid_date"].fillna(bills["due_date"] + pd.Timedelta(days=15))
        assert (settled.dt.date <= bills["event_time"].dt.date).all()   # reported once paid (or 15 days unpaid)


def test_latent_truth_is_kept_out_of_every_feed_and_feature(credit_sim):
    """No feed or credit feature holds the latent risk or a near copy of it; every signal is noisy."""
    import duckdb

    from fintech_dataops.lib.credit.features import build_features
    from fintech_dataops.lib.credit.sample import write_core_tables

    truth_names = {"latent_risk", "z", "default_probability", "thin_file", "fraud_victim", "is_fraud", "scenario"}
    for name, frame in credit_sim.feeds.items():
        assert not truth_names & set(frame.columns) - ({"is_fraud"} if name == "fraud_labels" else set()), name
    risk = credit_sim.customer_truth.set_index("customer_id")["latent_risk"]
    with duckdb.connect() as con:
        write_core_tables(con, credit_sim.feeds)
        features = build_features(con)
    assert not truth_names & set(features.columns)
    numeric = features.select_dtypes("number")
    r = numeric.apply(lambda column: column.corr(features["customer_id"].map(risk), method="spearman")).abs()
    assert r.max() < 0.8, r.sort_values().tail(3)


# --------------------------------------------------------------------------- malformed lines


def _check_malformed(line: str, kind: str, feed: str, lines_before: list[str]) -> None:
    spec = FEEDS[feed]
    if kind == "truncated":
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(line)
        return
    if kind == "duplicate":
        assert line in lines_before
        return
    if kind == "nonfinite_amount":
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(line)
        assert re.search(r":(-?Infinity|NaN)[,}]", line)
        return
    record = orjson.loads(line)
    if kind == "missing_field":
        assert set(spec.fields) - set(record)
    elif kind == "null_field":
        assert any(record[f] is None for f in (spec.id_field, "customer_id", spec.time_field) if f in record) or \
            any(v is None for v in record.values())
    elif kind == "wrong_type":
        assert any(isinstance(v, int) and f.endswith("_id") for f, v in record.items()) or \
            any(isinstance(v, str) and v.endswith("x") for v in record.values())
    elif kind == "negative_amount":
        assert any(isinstance(v, (int, float)) and v < 0 for v in record.values())
    elif kind == "bad_currency":
        assert record["currency"] in {"XXX", "usd$"}
    elif kind == "bad_timestamp":
        assert "-13-45T99:00" in record[spec.time_field]


def test_malformed_lines_at_the_configured_rate_and_of_the_declared_kind(sim):
    noisy = with_config(sim, malformed_rate=0.02)
    total_lines = total_bad = 0
    kinds: set[str] = set()
    for feed in FEED_NAMES:
        rendered = render_feed(noisy, feed)
        extras = sum(kind in EXTRA_KINDS for marks in rendered.malformed.values() for _, kind in marks)
        assert rendered.n_lines == len(sim.feeds[feed]) + extras
        for day, lines in rendered.lines.items():
            marks = rendered.malformed.get(day, [])
            if len(lines) >= 200:
                assert marks, (feed, day)
            for index, kind in marks:
                _check_malformed(lines[index], kind, feed, lines[:index])
                kinds.add(kind)
        total_lines += rendered.n_lines
        total_bad += rendered.n_malformed
    assert 0.01 < total_bad / total_lines < 0.04
    assert kinds == {"missing_field", "null_field", "wrong_type", "negative_amount", "nonfinite_amount",
                     "bad_currency", "bad_timestamp", "duplicate", "truncated"}


def test_no_malformed_lines_when_rate_is_zero(sim):
    clean = with_config(sim, malformed_rate=0.0)
    for feed in FEED_NAMES:
        rendered = render_feed(clean, feed)
        assert rendered.n_malformed == 0
        assert rendered.n_lines == len(sim.feeds[feed])
        for lines in rendered.lines.values():
            for line in lines[:50]:
                orjson.loads(line)


def test_default_rate_marks_at_least_one_line_per_busy_feed_day(sim):
    rendered = render_feed(sim, "transactions")
    for day, lines in rendered.lines.items():
        assert len(lines) >= 200
        assert rendered.malformed.get(day), day


# --------------------------------------------------------------------------- landing


def test_land_simulation_layout_and_idempotent_rerun(tiny_config, tmp_path):
    sim = simulate(tiny_config)
    landing_dir = tmp_path / "landing"
    report = land_simulation(sim, landing_dir)
    assert report.skipped_existing == 0 and report.files
    assert set(report.lines_per_feed) == set(FEED_NAMES)
    assert report.fx_rate_files and all(p.parts[-3] == "fx_rates" for p in report.fx_rate_files)
    counted: dict[str, int] = dict.fromkeys(FEED_NAMES, 0)
    for path in report.files:
        feed, partition, name = path.relative_to(landing_dir).parts
        assert feed in FEEDS and name == f"sim-{tiny_config.seed}.jsonl"
        assert re.match(r"^date=\d{4}-\d{2}-\d{2}$", partition)
        data = path.read_bytes()
        assert data.endswith(b"\n")
        counted[feed] += data.count(b"\n")
    assert counted == report.lines_per_feed
    assert sum(report.malformed_per_feed.values()) > 0
    assert {p.parent.name for p in report.files if p.parts[-3] == "transactions"} == {
        f"date={START + dt.timedelta(days=i)}" for i in range(tiny_config.days)}
    lines = render_feed_lines(sim, "transactions")
    landed = (landing_dir / "transactions" / f"date={START}" / f"sim-{tiny_config.seed}.jsonl").read_text()
    assert landed == "\n".join(lines[START]) + "\n"

    again = land_simulation(simulate(tiny_config), landing_dir)
    assert again.skipped_existing == len(report.files) == len(again.files)
    assert again.lines_per_feed == report.lines_per_feed

    other = simulate(dataclasses.replace(tiny_config, customers=301))
    with pytest.raises(FileExistsError, match="different content"):
        land_simulation(other, landing_dir)
    assert land_simulation(other, landing_dir, batch_prefix="other").skipped_existing == 0


def test_config_is_validated():
    with pytest.raises(ValueError):
        SimulationConfig(start=START, days=0)
    with pytest.raises(ValueError):
        SimulationConfig(start=START, malformed_rate=1.5)
    assert math.isclose(SimulationConfig(start=START).malformed_rate, 0.002)
