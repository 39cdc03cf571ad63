"""``fintech-dataops serve`` (the online fraud decision service) and ``replay`` (its load generator)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from fintech_dataops.lib.ingestion.landing import resolve_data_dir


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="run the online fraud decision service on 127.0.0.1")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8700, help="port (default 8700; 0 = any free port, printed)")
    p.add_argument("--batch-window-ms", type=float, default=2.0,
                   help="how long an idle scorer waits for more requests to batch (default 2 ms)")
    p.add_argument("--rotate-seconds", type=float, default=1.0,
                   help="land the open micro-batch at least this often (default 1 s)")
    p.add_argument("--reload-seconds", type=float, default=5.0,
                   help="how often to look for a new CURRENT fraud model (default 5 s)")
    p.add_argument("--max-body-bytes", type=int, default=2_000_000, help="request size limit (default 2 MB)")
    p.add_argument("--max-batch", type=int, default=10_000, help="most transactions per batch request")
    p.add_argument("--max-customers", type=int, default=1_000_000,
                   help="cap on customers kept in the window state (least recent evicted first)")
    p.add_argument("--max-requests-per-second", type=float, default=None,
                   help="per client (API key, else address): sustained request rate; beyond it 429 (default: off)")
    p.add_argument("--request-burst", type=int, default=50,
                   help="requests a client may send at once above the rate (default 50)")
    p.add_argument("--max-queued-events", type=int, default=50_000,
                   help="load shedding: past this many events waiting to be scored, answer 503 + Retry-After "
                        "(nothing acknowledged) instead of queueing (default 50000; 0 = never shed)")
    p.add_argument("--remember-ids", type=int, default=1_000_000,
                   help="acknowledged transaction ids remembered to refuse a resend with 409 (default 1000000)")
    p.add_argument("--request-timeout", type=float, default=10.0,
                   help="seconds a client has to send a complete request, headers and body; then the "
                        "connection is closed (default 10)")
    p.add_argument("--keep-alive-timeout", type=float, default=75.0,
                   help="seconds an idle kept-alive connection stays open (default 75)")
    p.add_argument("--max-connections", type=int, default=1_000,
                   help="open connections; a new one beyond is closed at once, and a request beyond "
                        "this many in flight gets 503 (default 1000)")
    p.add_argument("--forwarded-allow-ips", default="",
                   help="comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto are "
                        "believed (default: none, so a client cannot pick its own address)")
    p.add_argument("--tenants", default=None, metavar="all|NAME,NAME",
                   help="serve these registered tenants in one process; each request's tenant comes from its "
                        "API key (default: the --tenant selected, else the default tenant alone)")
    p.add_argument("--no-warm-start", action="store_true", help="start with empty windows")
    p.add_argument("--warm-start-max-rows", type=int, default=2_000_000,
                   help="most recent core.transactions rows read into the windows at start (default 2000000; "
                        "about 200 B of memory each)")
    p.add_argument("--scoring-processes", type=int, default=None, metavar="N",
                   help="score in N child processes beside the HTTP process, each holding the windows of a "
                        "shard of the customers (off the HTTP process's interpreter lock: more events per "
                        "second at a lower p99); 0 = on a thread of the service process (default: 1 on a "
                        "machine with two or more CPUs serving one tenant, else 0; with --tenants, N per tenant)")
    p.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    p.set_defaults(handler=run_serve)

    r = subparsers.add_parser("replay", help="stream simulated transactions into the service, report EPS and latency")
    r.add_argument("--eps", type=float, required=True, help="target events per second")
    r.add_argument("--seconds", type=float, required=True, help="how long to stream")
    r.add_argument("--batch-size", type=int, default=100, help="transactions per request (1 = single endpoint)")
    r.add_argument("--url", default="http://127.0.0.1:8700", help="service URL (default http://127.0.0.1:8700)")
    r.add_argument("--customers", type=int, default=20_000, help="simulated customers (default 20000)")
    r.add_argument("--seed", type=int, default=7)
    r.add_argument("--max-in-flight", type=int, default=512, help="most concurrent requests")
    r.add_argument("--laps", choices=("fresh", "warm", "repeat"), default="fresh",
                   help="customers of each pass over the day after the first: new ids (default), the day's "
                        "own customers rotated, so every event meets a warm-started history (warm), or each "
                        "customer's own day again (repeat; with --event-times simulated, the next day)")
    r.add_argument("--event-times", choices=("send", "simulated"), default="send",
                   help="each event's event_time: its send time (default; a simulated day is compressed into "
                        "seconds, so velocity windows fire on most customers), or its own simulated time, pass "
                        "k of the day shifted k days on (each customer's real spacing at the offered rate)")
    r.set_defaults(handler=run_replay)


def run_serve(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.monitor.staff import StaffKeys
    from fintech_dataops.lib.realtime.app import API_KEY_ENV, ServiceConfig
    from fintech_dataops.lib.realtime.server import serve

    try:
        staff_keys = StaffKeys.from_env()  # the monitor's case actions: separate from FINTECH_API_KEY
        staff_keys.refuse_shared_with(os.environ.get(API_KEY_ENV))
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = ServiceConfig(
        staff_keys=staff_keys, slack_webhook_url=os.environ.get("FINTECH_SLACK_WEBHOOK_URL") or None,
        data_dir=resolve_data_dir(args.data_dir), host=args.host, port=args.port,
        batch_window_ms=args.batch_window_ms, rotate_seconds=args.rotate_seconds,
        reload_seconds=args.reload_seconds, max_body_bytes=args.max_body_bytes,
        max_batch_records=args.max_batch, max_customers=args.max_customers,
        max_requests_per_second=args.max_requests_per_second, request_burst=args.request_burst,
        warm_start=not args.no_warm_start, warm_start_max_rows=args.warm_start_max_rows,
        scoring_processes=scoring_processes(args.scoring_processes), api_key=os.environ.get(API_KEY_ENV) or None,
        max_queued_events=args.max_queued_events or None,
        remember_ids=args.remember_ids, request_timeout_seconds=args.request_timeout,
        keep_alive_seconds=args.keep_alive_timeout, max_connections=args.max_connections,
        forwarded_allow_ips=tuple(ip.strip() for ip in args.forwarded_allow_ips.split(",") if ip.strip()),
    )
    try:
        tenants = served_tenants(args)
        if tenants is not None:
            from fintech_dataops.lib.ingestion.landing import resolve_platform_dir
            from fintech_dataops.lib.tenancy.service import TenantRouter

            platform_dir = resolve_platform_dir(args.data_dir)
            if args.scoring_processes is None:  # a child per tenant by default would be a process per bank
                config = dataclasses.replace(config, scoring_processes=0)
            if staff_keys.configured:
                print("note: FINTECH_STAFF_KEYS(_FILE) is not used when serving tenants: each bank's analysts "
                      "sign in with their own staff keys (`fintech-dataops tenant staff-key NAME ANALYST`)",
                      file=sys.stderr)
            return serve(config, log_level=args.log_level, build_app=lambda on_ready: TenantRouter(
                platform_dir, config, tenants, on_ready=on_ready))
        return serve(config, log_level=args.log_level)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def scoring_processes(requested: int | None) -> int:
    """``--scoring-processes``, or its default: one scoring process when there is a second CPU for it."""
    if requested is not None:
        return requested
    return 1 if (os.cpu_count() or 1) >= 2 else 0


def served_tenants(args: argparse.Namespace) -> list[str] | None:
    """Tenants served by key (``--tenants``, or the selected ``--tenant``); None = the default tenant alone."""
    from fintech_dataops.lib.tenancy.paths import DEFAULT_TENANT, current_tenant

    if args.tenants:
        return [] if args.tenants == "all" else [t.strip() for t in args.tenants.split(",") if t.strip()]
    tenant = current_tenant()
    return None if tenant == DEFAULT_TENANT else [tenant]


def run_replay(args: argparse.Namespace) -> int:
    import threading

    from fintech_dataops.lib.realtime.app import API_KEY_ENV
    from fintech_dataops.lib.realtime.replay import ReplayConfig, passes_needed, replay, simulated_records
    from fintech_dataops.lib.serving import stop_requested_by_signals

    try:
        config = ReplayConfig(
            url=args.url, eps=args.eps, seconds=args.seconds, batch_size=args.batch_size,
            customers=args.customers, seed=args.seed, max_in_flight=args.max_in_flight,
            api_key=os.environ.get(API_KEY_ENV) or None, laps=args.laps, event_times=args.event_times,
        )
        records = simulated_records(args.customers, args.seed)
        if args.event_times == "simulated":  # the day far enough back that the last pass is not ahead of the clock
            days_back = passes_needed(config, len(records)) + 1  # + 1: another day's draw may be a little shorter
            if days_back > 1:
                records = simulated_records(args.customers, args.seed, days_back=days_back)
        # SIGTERM/SIGINT: stop sending, await what is in flight, still print the report.
        with stop_requested_by_signals(threading.Event()) as stop:
            print(f"replaying into {args.url} for {args.seconds:g} s at {args.eps:g} events/s "
                  "(SIGTERM or Ctrl-C stops early, with a report)", file=sys.stderr, flush=True)
            report = replay(config, records, stop=stop)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0 if report["acknowledged_events"] == report["sent_events"] else 1
