"""The analyst's workflow in a real headless Chromium: the queue loads, filters, a case opens and is
closed with a disposition; the disposition lands in ``fraud.dispositions`` and is a label training uses.

Needs Debian's ``chromium``; skipped with that reason when it is absent.
"""

import json
import shutil
from datetime import UTC, datetime

import duckdb
import pytest

from fintech_dataops_tests.browser.cdp import Chromium
from fintech_dataops_tests.lib.monitor.helpers import STAFF, build_alert_warehouse, running_monitor, staff_env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)"),
]
ROWS = "[...document.querySelectorAll('#alert-rows tr.alert')].map(r => r.dataset.transactionId)"


def _set(browser: Chromium, element: str, value: str, event: str) -> None:
    browser.evaluate(f"(() => {{ const e = document.getElementById({element!r}); e.value = {value!r}; "
                     f"e.dispatchEvent(new Event({event!r})); return true; }})()")


def _click(browser: Chromium, element: str) -> None:
    browser.evaluate(f"document.getElementById({element!r}).click() || true")


def _rows_become(browser: Chromium, expected: list[str]) -> None:
    browser.wait_for(f"JSON.stringify({ROWS}) === {json.dumps(json.dumps(expected, separators=(',', ':')))}")


def test_queue_filters_opens_a_case_and_closes_it_into_a_training_label(data_dir, tmp_path):
    now = datetime.now(UTC).replace(tzinfo=None)
    build_alert_warehouse(data_dir / "warehouse.duckdb", now=now)
    browser = None
    with running_monitor(data_dir, staff_env()) as base:
        try:
            browser = Chromium(CHROMIUM, tmp_path / "profile", window="1600,900")
            browser.open(f"{base}/monitor")
            _set(browser, "staff-key", STAFF["alice"], "change")
            # The queue loads (open view, newest first) and refreshes itself without reloading the page.
            _rows_become(browser, ["T-fast", "T-late", "T-old"])
            browser.wait_for("document.getElementById('who').textContent === 'signed in as alice'")
            ages = browser.evaluate("[...document.querySelectorAll('#alert-rows tr.alert')].map(r => "
                                    "[r.querySelector('.event-time').dataset.value, r.querySelector('.alerted-at').dataset.value, "
                                    "Number(r.querySelector('.alert-age').dataset.seconds)])")
            for event_time, alerted_at, seconds in ages:  # the age shown is alert time - event time
                assert seconds == (datetime.fromisoformat(alerted_at) - datetime.fromisoformat(event_time)).total_seconds()
            assert browser.evaluate("document.querySelector('tr[data-transaction-id=\"T-late\"] .alert-age').textContent") == "26.0 h"
            # Data is text, never markup: a reason carrying an <img onerror> stays a string.
            assert browser.evaluate("document.querySelectorAll('#alert-rows img').length") == 0
            assert browser.evaluate("window.pwned === undefined")
            assert "<img src=x" in browser.evaluate("document.querySelector('tr[data-transaction-id=\"T-late\"] .reasons').textContent")
            # Filter, search and views.
            _set(browser, "search", "velocity", "input")
            _rows_become(browser, ["T-old"])
            _set(browser, "search", "", "input")
            _set(browser, "decision", "block", "change")
            _rows_become(browser, ["T-fast"])
            _set(browser, "decision", "", "change")
            _click(browser, "tab-today")
            today = [tx for tx, alerted in (("T-fast", 300), ("T-late", 3600), ("T-old", 86400))
                     if datetime.fromtimestamp(now.timestamp() - alerted).date() == now.date()]
            _rows_become(browser, today)
            _click(browser, "tab-open")
            _rows_become(browser, ["T-fast", "T-late", "T-old"])
            # Open a case: context, reasons, the customer's recent transactions and prior alerts.
            browser.evaluate("document.querySelector('tr[data-transaction-id=\"T-fast\"]').click() || true")
            browser.wait_for("document.getElementById('case-pane').dataset.transactionId === 'T-fast' && "
                             "document.querySelectorAll('#customer-transactions tr').length === 4")
            facts = browser.evaluate("document.getElementById('case-facts').textContent")
            assert "M-9" in facts and "ecommerce" in facts and "GB" in facts and "HIGH_VALUE" in facts
            assert "amount 950.00 > 800.00 USD requires review" in browser.evaluate("document.getElementById('case-reasons').textContent")
            assert browser.evaluate("document.querySelectorAll('#customer-alerts tr').length") == 3  # T-fast, T-old
            # Assign, note, close with a disposition.
            _click(browser, "assign-me")
            browser.wait_for("document.getElementById('case-message').textContent === 'assign recorded'")
            _set(browser, "note-text", "card reported stolen by the customer", "input")
            _set(browser, "disposition", "confirmed_fraud", "change")
            _click(browser, "close-case")
            browser.wait_for("document.getElementById('case-message').textContent === 'close recorded'")
            _rows_become(browser, ["T-late", "T-old"])  # no longer open
            assert "closed: confirmed_fraud" in browser.evaluate("document.getElementById('case-facts').textContent")
        finally:
            if browser is not None:
                browser.close()

    # The disposition lands in fraud.dispositions (landing → raw → core → fraud) and is a training label.
    from fintech_dataops.lib.fraud.warehouse_io import training_data
    from fintech_dataops.lib.ingestion.landing import landed_days
    from fintech_dataops.lib.monitor.cases import FEED_NAME
    from fintech_dataops.lib.monitor.dispositions import build_dispositions
    from fintech_dataops.lib.quality.core_gate import load_core_partitions
    from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    days = [d.isoformat() for d in landed_days(data_dir / "landing", FEED_NAME)]
    load_raw_partitions(con, data_dir / "landing", FEED_NAME, days)
    core = load_core_partitions(con, FEED_NAME, days)
    assert (core.valid_rows, core.quarantined_rows) == (2, 0)  # assign + close
    build_dispositions(con)
    assert con.execute("SELECT transaction_id, disposition, analyst, note FROM fraud.dispositions").fetchall() == \
        [("T-fast", "confirmed_fraud", "alice", "card reported stolen by the customer")]
    con.execute("CREATE TABLE fraud.features AS SELECT transaction_id, event_time, partition_date FROM fraud.scored_transactions")
    data = training_data(con, training_days=28, label_maturity_days=0)
    con.close()
    labelled = dict(zip(data.features["transaction_id"], data.is_fraud.tolist()))
    assert labelled == {"T-fast": True, "T-late": False, "T-old": False, "T-calm": False}
