"""``fintech-dataops monitor``: the analyst's fraud monitor on 127.0.0.1 when the service is not running.

Same page and routes as the decision service's ``/monitor`` (``lib.monitor.router``), over the
warehouse's alerts and the landed case actions; the default port is the service's, so the URL the
Dagster asset links (http://127.0.0.1:8700/monitor) is the same whichever of the two runs.
"""

from __future__ import annotations

import argparse
import sys

from fintech_dataops.lib.ingestion.landing import resolve_data_dir


def register(subparsers) -> None:
    p = subparsers.add_parser("monitor", help="serve the fraud monitor (alert queue, cases) on 127.0.0.1")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8700, help="port (default 8700, the service's; 0 = any free port, printed)")
    p.add_argument("--hash-key", action="store_true",
                   help="print the SHA-256 of a staff key read from stdin (for FINTECH_STAFF_KEYS) and exit")
    p.set_defaults(handler=run_monitor)


def run_monitor(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.monitor.staff import StaffKeys, hash_key

    if args.hash_key:
        print(hash_key(sys.stdin.readline().rstrip("\n")))
        return 0
    from fintech_dataops.lib.monitor.server import serve_monitor

    try:
        staff = StaffKeys.from_env()
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return serve_monitor(resolve_data_dir(args.data_dir), staff, host=args.host, port=args.port)
    except OSError as exc:  # most often: the decision service already serves the monitor on this port
        print(f"error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); if `fintech-dataops serve` "
              f"runs, the monitor is already at http://{args.host}:{args.port}/monitor", file=sys.stderr)
        return 2
