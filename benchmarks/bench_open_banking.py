"""Open-banking sync throughput against the loopback emulator.

Measures, in the same run:
- Plaid ``/transactions/sync`` changes/s through ``plaid-python`` (strict model
  deserialisation) versus the same pages fetched as plain JSON over HTTP (the
  peer: no SDK) — the ratio is what the SDK's type checking costs;
- Stripe ``/v1/charges`` objects/s through the ``stripe`` SDK (pagination
  with ``starting_after``) versus plain JSON over HTTP;
- the full land step (sync + lossless landing + cursor commit) for Plaid.
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path


def _post(url: str, body: dict, headers: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def _get(url: str, key: str) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})) as response:
        return json.loads(response.read())


def run(quick: bool = False) -> dict:
    from fintech_dataops.lib.open_banking.emulator import SandboxEmulator
    from fintech_dataops.lib.open_banking.emulator_data import EmulatorConfig
    from fintech_dataops.lib.open_banking.plaid_sync import PlaidSyncer, plaid_client
    from fintech_dataops.lib.open_banking.state import SyncStateStore
    from fintech_dataops.lib.open_banking.stripe_sync import stripe_client
    from plaid.model.transactions_sync_request import TransactionsSyncRequest

    days = 30 if quick else 90
    config = EmulatorConfig(start=date.today() - timedelta(days=days), days=days, plaid_items=4 if quick else 12,
                            stripe_charges_per_day=20 if quick else 60)
    out: dict = {"days": days, "plaid_items": config.plaid_items}
    with SandboxEmulator(config) as emu:
        headers = {"PLAID-CLIENT-ID": config.plaid_client_id, "PLAID-SECRET": config.plaid_secret}
        api = plaid_client(emu.url, config.plaid_client_id, config.plaid_secret)

        def plaid_sdk() -> int:
            n = 0
            for token in emu.access_tokens.values():
                cursor = ""
                while True:
                    request = TransactionsSyncRequest(access_token=token, count=500)
                    if cursor:
                        request.cursor = cursor
                    page = api.transactions_sync(request)
                    n += len(page.added) + len(page.modified) + len(page.removed)
                    cursor = page.next_cursor
                    if not page.has_more:
                        break
            return n

        def plaid_json() -> int:
            n = 0
            for token in emu.access_tokens.values():
                cursor = ""
                while True:
                    page = _post(f"{emu.url}/transactions/sync",
                                 {"access_token": token, "count": 500, **({"cursor": cursor} if cursor else {})}, headers)
                    n += len(page["added"]) + len(page["modified"]) + len(page["removed"])
                    cursor = page["next_cursor"]
                    if not page["has_more"]:
                        break
            return n

        for name, fn in (("plaid_sdk", plaid_sdk), ("plaid_plain_json", plaid_json)):
            t0 = time.perf_counter()
            n = fn()
            out[f"{name}_changes_per_s"] = round(n / (time.perf_counter() - t0))
            out["plaid_changes"] = n
        out["plaid_sdk_vs_plain_json_ratio"] = round(out["plaid_sdk_changes_per_s"] / out["plaid_plain_json_changes_per_s"], 3)

        client = stripe_client(config.stripe_api_key, emu.url)
        t0 = time.perf_counter()
        charges = sum(1 for _ in client.v1.charges.list(params={"limit": 100}).auto_paging_iter())
        out["stripe_sdk_objects_per_s"] = round(charges / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        n, after = 0, ""
        while True:
            page = _get(f"{emu.url}/v1/charges?limit=100" + (f"&starting_after={after}" if after else ""),
                        config.stripe_api_key)
            n += len(page["data"])
            if not page["has_more"]:
                break
            after = page["data"][-1]["id"]
        out["stripe_plain_json_objects_per_s"] = round(n / (time.perf_counter() - t0))
        out["stripe_charges"] = charges
        out["stripe_sdk_vs_plain_json_ratio"] = round(out["stripe_sdk_objects_per_s"] / out["stripe_plain_json_objects_per_s"], 3)

        with tempfile.TemporaryDirectory() as tmp:
            landing = Path(tmp) / "landing"
            syncer = PlaidSyncer(api, landing, SyncStateStore(Path(tmp) / "state"), page_size=500)
            t0 = time.perf_counter()
            landed = sum(syncer.sync_item(c, t).landing.records for c, t in emu.access_tokens.items())
            out["plaid_sync_and_land_changes_per_s"] = round(landed / (time.perf_counter() - t0))
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick=True), indent=2))
