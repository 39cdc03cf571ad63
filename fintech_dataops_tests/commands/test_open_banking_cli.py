"""``fintech-dataops stripe-webhooks`` as a real process: verify, land, count, stop on SIGINT."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fintech_dataops.lib.open_banking.webhooks import sign_payload

SECRET = "whsec_cliSecretValue0123456789"


@pytest.mark.slow
def test_webhook_receiver_process(tmp_path: Path):
    env = {**os.environ, "STRIPE_WEBHOOK_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fintech_dataops.cli", "--data-dir", str(tmp_path), "stripe-webhooks", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/stripe/webhooks)", line)
        assert match, line
        url = match.group(1)
        event = {"id": "evt_cli0001", "object": "event", "type": "charge.refunded", "created": int(time.time()),
                 "api_version": "2025-03-31.basil", "livemode": False, "pending_webhooks": 1,
                 "request": {"id": None, "idempotency_key": None},
                 "data": {"object": {"id": "ch_cli0001", "object": "charge", "amount": 1250, "currency": "usd",
                                     "fraud_details": {"user_report": "fraudulent"},
                                     "metadata": {"customer_id": "C0000042"}}}}
        body = json.dumps(event).encode()
        ok = urllib.request.Request(url, data=body, method="POST", headers={"Stripe-Signature": sign_payload(body, SECRET)})
        with urllib.request.urlopen(ok, timeout=10) as response:
            assert response.status == 200
        bad = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Stripe-Signature": sign_payload(body, SECRET, int(time.time()) - 3600)})
        with pytest.raises(urllib.error.HTTPError) as rejected:
            urllib.request.urlopen(bad, timeout=10)
        assert rejected.value.code == 400
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "'accepted': 1" in output and "'rejected_signature': 1" in output
    assert SECRET not in line + output
    landed = list((tmp_path / "landing" / "stripe_events").rglob("evt_cli0001.jsonl"))
    assert len(landed) == 1
    record = json.loads(landed[0].read_text())
    assert record["fraud_report"] == "fraudulent" and record["customer_id"] == "C0000042" and record["amount"] == 12.5
