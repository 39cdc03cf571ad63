"""``fintech-dataops stripe-webhooks`` and ``open-banking-emulator``: the open-banking processes.

``stripe-webhooks`` verifies each delivery's ``Stripe-Signature`` with the
signing secret from ``$STRIPE_WEBHOOK_SECRET`` (never a command-line argument:
arguments are visible to every user in ``ps``) and lands verified events into
``<data dir>/landing/stripe_events``. ``open-banking-emulator`` serves the
offline Plaid/Stripe sandbox for manual exploration with the SDKs or curl.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, timedelta

from fintech_dataops.lib.ingestion.landing import resolve_data_dir

WEBHOOK_SECRET_ENV = "STRIPE_WEBHOOK_SECRET"


def register(subparsers) -> None:
    w = subparsers.add_parser("stripe-webhooks", help="receive Stripe webhooks on 127.0.0.1, verify and land them")
    w.add_argument("--port", type=int, default=8787, help="port on 127.0.0.1 (default 8787; 0 = any free port)")
    w.add_argument("--tolerance", type=int, default=300,
                   help="seconds a signed timestamp stays valid (replays older than this are rejected; default 300)")
    w.add_argument("--max-body-bytes", type=int, default=1_000_000,
                   help="larger deliveries are refused with 413 before they are read (default 1 MB)")
    w.add_argument("--read-timeout", type=float, default=10.0,
                   help="seconds a client has to send a whole request; slower ones are cut off (default 10)")
    w.add_argument("--max-connections", type=int, default=100,
                   help="concurrent connections served; beyond it 503 (default 100)")
    w.set_defaults(handler=webhooks_command)

    e = subparsers.add_parser("open-banking-emulator", help="serve the offline Plaid + Stripe sandbox on 127.0.0.1")
    e.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    e.add_argument("--days", type=int, default=30, help="days of history ending today (default 30)")
    e.add_argument("--seed", type=int, default=7)
    e.set_defaults(handler=emulator_command)


def webhooks_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.open_banking.webhooks import WebhookReceiver

    secret = os.environ.get(WEBHOOK_SECRET_ENV, "")
    if not secret:
        print(f"error: set {WEBHOOK_SECRET_ENV} to the endpoint's signing secret (whsec_…)", file=sys.stderr)
        return 2
    landing_dir = resolve_data_dir(args.data_dir) / "landing"
    try:
        receiver = WebhookReceiver(secret, landing_dir, port=args.port, tolerance=args.tolerance,
                                   log=lambda line: print(line, flush=True), max_body_bytes=args.max_body_bytes,
                                   read_timeout=args.read_timeout, max_connections=args.max_connections)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:  # a stop signal from here on, even one answering the line below, ends cleanly with exit 0
        print(f"receiving Stripe webhooks on {receiver.url} (stats: http://127.0.0.1:{receiver.port}/stats); "
              f"landing into {landing_dir / 'stripe_events'}", flush=True)
        receiver.serve_forever()  # returns after SIGTERM/SIGINT, once in-flight deliveries are answered
    except KeyboardInterrupt:  # the signal came before the server loop took over: nothing was in flight
        pass
    finally:
        print(f"stopped: {receiver.stats.as_dict()}", flush=True)
    return 0


def emulator_command(args: argparse.Namespace) -> int:
    import threading

    from fintech_dataops.lib.open_banking.emulator import SandboxEmulator
    from fintech_dataops.lib.open_banking.emulator_data import EmulatorConfig

    config = EmulatorConfig(start=date.today() - timedelta(days=args.days), days=args.days, seed=args.seed)
    emulator = SandboxEmulator(config)
    try:  # a stop signal from here on, even one answering the lines below, ends cleanly with exit 0
        emulator.start(port=args.port)
        print(f"open-banking sandbox on {emulator.url}", flush=True)
        print(f"  Plaid: client id {config.plaid_client_id!r}, secret {config.plaid_secret!r} (emulator-only values)")
        print(f"  Stripe: api key {config.stripe_api_key!r} (emulator-only value)")
        for customer_id, token in sorted(emulator.access_tokens.items()):
            print(f"  item for {customer_id}: access token {token}")
        threading.Event().wait()
    except KeyboardInterrupt:  # SIGINT or SIGTERM (lib/serving.py installs both)
        pass
    finally:
        emulator.stop()
        print("stopped", flush=True)
    return 0
