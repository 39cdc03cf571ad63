"""Stripe list endpoints through the stripe SDK against the emulator on loopback."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import pytest

from fintech_dataops.lib.ingestion.landing import landed_days, landed_files
from fintech_dataops.lib.open_banking import layers, tables
from fintech_dataops.lib.open_banking.errors import CredentialsRejected, OpenBankingError
from fintech_dataops.lib.open_banking.stripe_sync import StripeSyncer, major_units, stripe_client
from fintech_dataops.lib.ingestion.sources import PLATFORM_TRANSACTION_COLUMNS, transactions_sql
from fintech_dataops_tests.lib.open_banking.conftest import FAST_RETRY, START, STRIPE_KEY, at, end_of

KINDS = ("charges", "payment_intents", "balance_transactions", "disputes")


def syncer(emulator, landing, state, *, key=None, sleep=None, page_limit=25):
    return StripeSyncer(stripe_client(key or emulator.config.stripe_api_key, emulator.url), landing, state,
                        retry=FAST_RETRY, page_limit=page_limit, sleep=sleep)


def landed(landing, feed: str) -> list[dict]:
    rows = []
    for day in landed_days(landing, feed):
        for path in landed_files(landing, feed, day):
            rows += [json.loads(line) for line in path.read_text().splitlines()]
    return rows


def test_pagination_follows_starting_after_newest_first(emulator):
    client = stripe_client(emulator.config.stripe_api_key, emulator.url)
    seen, params = [], {"limit": 7}
    while True:
        page = client.v1.charges.list(params=params)
        seen += [(c.created, c.id) for c in page.data]
        if not page.has_more:
            break
        params["starting_after"] = page.data[-1].id
    assert len(seen) == len(set(seen)) == len(emulator.stripe.charges)
    assert seen == sorted(seen, reverse=True)
    auto = [c.id for c in client.v1.charges.list(params={"limit": 10}).auto_paging_iter()]
    assert auto == [cid for _, cid in seen], "the SDK's auto-pagination walks the same pages"
    cutoff = sorted(seen)[len(seen) // 2][0]
    newer = client.v1.charges.list(params={"limit": 100, "created": {"gte": cutoff}})
    assert newer.data and all(c.created >= cutoff for c in newer.data)


def test_full_then_incremental_by_created_lands_each_object_once(emulator, ob_dirs):
    landing, state = ob_dirs
    emulator.as_of = at(START) + timedelta(days=5)
    first = {k: syncer(emulator, landing, state).sync(k, now=emulator.as_of) for k in KINDS}
    assert first["charges"].landing.records > 0 and first["charges"].pages > 1
    for _ in range(3):
        emulator.advance(timedelta(days=4))
        for kind in KINDS:
            result = syncer(emulator, landing, state).sync(kind, now=emulator.as_of)
            assert result.skipped_at_watermark >= 1 or result.watermark_before is None or result.received == 0
    emulator.as_of = end_of(emulator.config) + timedelta(days=30)
    for kind in KINDS:
        syncer(emulator, landing, state).sync(kind, now=emulator.as_of)
        feed = f"stripe_{kind}"
        ids = [r[{"charges": "charge_id", "payment_intents": "payment_intent_id",
                  "balance_transactions": "balance_transaction_id", "disputes": "dispute_id"}[kind]]
               for r in landed(landing, feed)]
        assert len(ids) == len(set(ids)), f"{kind}: an object landed twice"
        assert set(ids) == {o["id"] for o in getattr(emulator.stripe, kind)}, f"{kind}: an object was missed"
    charge = landed(landing, "stripe_charges")[0]
    assert charge["api_object"]["object"] == "charge"
    assert charge["amount"] == major_units(charge["api_object"]["amount"], "usd")


def test_rate_limit_then_success_honours_retry_after(emulator, ob_dirs, sleeps):
    landing, state = ob_dirs
    emulator.inject("/v1/charges", 429, retry_after=0.5)
    emulator.inject("/v1/charges", 502)
    result = syncer(emulator, landing, state, sleep=sleeps).sync("charges")
    assert result.landing.records == len(emulator.stripe.charges)
    assert sleeps.waits[0] == 0.5 and len(sleeps.waits) == 2
    assert [r["status"] for r in emulator.requests_to("/v1/charges")][:3] == [429, 502, 200]


def test_server_errors_exhausted_leave_the_watermark(emulator, ob_dirs, sleeps):
    landing, state = ob_dirs
    emulator.inject("/v1/disputes", 500, times=FAST_RETRY.max_attempts)
    with pytest.raises(OpenBankingError, match="HTTP 500"):
        syncer(emulator, landing, state, sleep=sleeps).sync("disputes")
    assert state.load("stripe", "disputes") == {}


def test_crash_between_landing_and_commit_replays_without_duplicates(emulator, ob_dirs):
    landing, state = ob_dirs
    emulator.as_of = at(START) + timedelta(days=6)

    def crash():
        raise KeyboardInterrupt("killed before the watermark commit")

    with pytest.raises(KeyboardInterrupt):
        syncer(emulator, landing, state).sync("charges", now=emulator.as_of, after_landing=crash)
    assert state.load("stripe", "charges") == {}
    before = len(landed(landing, "stripe_charges"))
    emulator.advance(timedelta(days=2))
    replay = syncer(emulator, landing, state).sync("charges", now=emulator.as_of)
    assert replay.landing.skipped_already_landed == before
    ids = [r["charge_id"] for r in landed(landing, "stripe_charges")]
    assert len(ids) == len(set(ids))
    visible = [c for c in emulator.stripe.charges if c["created"] <= emulator.as_of.timestamp()]
    assert len(ids) == len(visible)


def test_bad_api_key_is_a_clear_error_without_the_key(emulator, ob_dirs):
    landing, state = ob_dirs
    wrong = "sk_test_wrongKeyDoNotPrint123"
    with pytest.raises(CredentialsRejected) as info:
        syncer(emulator, landing, state, key=wrong).sync("charges")
    text = str(info.value)
    assert "STRIPE_API_KEY" in text
    assert wrong not in text and wrong[-4:] not in text and STRIPE_KEY not in text
    assert info.value.__cause__ is None


def test_core_tables_labels_and_platform_transactions(emulator, ob_dirs, tmp_path):
    landing, state = ob_dirs
    emulator.as_of = end_of(emulator.config) + timedelta(days=20)
    for kind in KINDS:
        syncer(emulator, landing, state, page_limit=100).sync(kind, now=emulator.as_of)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for feed in ("stripe_charges", "stripe_payment_intents", "stripe_balance_transactions", "stripe_disputes"):
        layers.load_raw_feed(con, landing, feed)
        result = layers.load_core_feed(con, feed)
        assert result.quarantined_rows == 0, (feed, result.failed_checks)
        assert result.valid_rows == len(getattr(emulator.stripe, feed.removeprefix("stripe_")))
    tables.build_plaid_current(con)
    tables.build_platform_transactions(con)
    tables.build_stripe_fraud_labels(con)

    columns = [r[0] for r in con.execute("DESCRIBE open_banking.platform_transactions").fetchall()]
    assert tuple(columns) == PLATFORM_TRANSACTION_COLUMNS
    succeeded = [c for c in emulator.stripe.charges if c["status"] == "succeeded"]
    union = con.execute(f"SELECT count(*), min(amount) FROM ({transactions_sql(con)})").fetchone()
    assert union[0] == len(succeeded) and union[1] > 0

    labels = con.execute("SELECT label_id, transaction_id, customer_id, is_fraud, fraud_type FROM "
                         "open_banking.stripe_fraud_labels").fetchall()
    disputes = emulator.stripe.disputes
    assert len(labels) == len(disputes) + len(emulator.stripe.refunds)
    by_label = {r[0]: r for r in labels}
    for dispute in disputes:
        label = by_label[f"stripe:{dispute['id']}"]
        assert label[1] == f"stripe:{dispute['charge']}"
        assert label[3] == (dispute["reason"] == "fraudulent")
        assert label[2] is not None and label[2].startswith("C")
    for charge_id in emulator.stripe.refunds:
        assert by_label[f"stripe:refund:{charge_id}"][3] is True
    union = con.execute(f"SELECT count(*), count(DISTINCT source) FROM ({tables.fraud_labels_sql(con)})").fetchone()
    assert union == (len(labels), 1)
