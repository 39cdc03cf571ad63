"""``fintech-dataops tenant …``: onboard, configure, list, re-key and offboard banks.

    fintech-dataops tenant create acme --display-name "Acme Bank" --logo acme.svg --color '#0a7d3b' --currency EUR
    fintech-dataops --tenant acme simulate …      # every command works for one tenant (or FINTECH_TENANT=acme)
    fintech-dataops tenant workspace -o deploy/tenants.workspace.yaml   # one Dagster code location per tenant

The API key is printed once, in the JSON of ``create`` / ``rotate-key``; only its salted
scrypt hash is stored. Every operation is appended to the audit log (``tenant audit``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, timedelta
from pathlib import Path

from fintech_dataops.lib.ingestion.landing import resolve_platform_dir


def register(subparsers) -> None:
    p = subparsers.add_parser("tenant", help="tenants (banks): create, configure, list, rotate-key, staff-key, delete, workspace")
    sub = p.add_subparsers(dest="tenant_command", metavar="ACTION", required=True)

    c = sub.add_parser("create", help="register a tenant with its own storage; prints its API key once (JSON)")
    c.add_argument("name", help="tenant name: lower-case letters, digits, inner hyphens (e.g. acme-bank)")
    c.add_argument("--display-name", default=None, help="name shown on reports and pages (default: NAME)")
    c.add_argument("--logo", type=Path, default=None, help="logo file (.svg/.png/.jpg/.webp, at most 256 KB)")
    c.add_argument("--color", default=None, help="brand colour #RRGGBB")
    c.add_argument("--currency", default=None, help="reporting currency (ISO 4217; default: the platform's, USD)")
    c.add_argument("--actor", default=None, help="who does this, for the audit log (default: the OS user)")
    c.set_defaults(handler=run_create)

    g = sub.add_parser("configure", help="change a tenant's branding or settings (validated; unset = platform default)")
    g.add_argument("name")
    g.add_argument("--display-name", default=None)
    g.add_argument("--logo", type=Path, default=None)
    g.add_argument("--color", default=None)
    g.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=JSON",
                   help="a setting, value as JSON: reporting_currency='\"EUR\"', quarantine_error_rate=0.02, "
                        "credit_approve_cutoff=660, fraud_rules='{\"high_value_amount\": 500}', "
                        "alert_sinks='{\"slack_webhook_env\": \"ACME_SLACK_WEBHOOK_URL\"}', "
                        "max_requests_per_second=200, request_burst=400 (repeatable)")
    g.add_argument("--actor", default=None)
    g.set_defaults(handler=run_configure)

    s = sub.add_parser("show", help="a tenant's profile: branding and settings (JSON; no keys)")
    s.add_argument("name")
    s.set_defaults(handler=run_show)

    ls = sub.add_parser("list", help="registered tenants (JSON)")
    ls.set_defaults(handler=run_list)

    r = sub.add_parser("rotate-key", help="replace the tenant's API key (the old one stops working); prints the new one")
    r.add_argument("name")
    r.add_argument("--actor", default=None)
    r.set_defaults(handler=run_rotate)

    k = sub.add_parser("staff-key", help="an analyst's staff key for the tenant's monitor (printed once; JSON), "
                                          "or --revoke it (their browser sessions end)")
    k.add_argument("name")
    k.add_argument("analyst", help="who signs in with it: letters, digits and . _ @ - (e.g. alice@acme)")
    k.add_argument("--revoke", action="store_true", help="remove the analyst's key instead")
    k.add_argument("--actor", default=None)
    k.set_defaults(handler=run_staff_key)

    d = sub.add_parser("delete", help="offboard: remove every file of the tenant and its registry entry")
    d.add_argument("name")
    d.add_argument("--yes", action="store_true", help="required: deletion cannot be undone")
    d.add_argument("--actor", default=None)
    d.set_defaults(handler=run_delete)

    a = sub.add_parser("audit", help="the audit log of tenant operations (JSON lines), after checking its hash chain")
    a.set_defaults(handler=run_audit)

    b = sub.add_parser("backfill", help="one run per day for one tenant on the configured Dagster instance: "
                                        "queued (per-bank limits) when its run queue has a live daemon, "
                                        "else executed here (multiprocess executor)")
    b.add_argument("name")
    b.add_argument("--start", type=date.fromisoformat, required=True, help="first day YYYY-MM-DD")
    b.add_argument("--end", type=date.fromisoformat, default=None, help="last day (default: --start)")
    b.add_argument("--job", default="daily_pipeline", help="asset job (default daily_pipeline)")
    b.add_argument("--select", default=None, metavar="KEY,KEY",
                   help="only these assets of the job, e.g. raw/transactions,core/transactions")
    b.add_argument("--max-concurrent", type=int, default=2, help="step processes at once (default 2)")
    b.set_defaults(handler=run_backfill)

    w = sub.add_parser("workspace", help="write a Dagster workspace with one code location per tenant")
    w.add_argument("-o", "--out", type=Path, default=None, help="file to write (default: print)")
    w.add_argument("--without-default", action="store_true", help="leave out the default tenant's location")
    w.set_defaults(handler=run_workspace)


def _registry(args):
    from fintech_dataops.lib.tenancy.registry import TenantRegistry

    return TenantRegistry(resolve_platform_dir(args.data_dir))


def _print(payload) -> None:
    print(json.dumps(payload, indent=2))


def _guarded(action):
    """Refusals (bad name, unknown tenant, invalid setting) are one error line and exit code 2."""
    def run(args: argparse.Namespace) -> int:
        from pydantic import ValidationError

        from fintech_dataops.lib.tenancy.paths import TenantError

        try:
            return action(args)
        except (TenantError, ValidationError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return run


@_guarded
def run_create(args) -> int:
    row, api_key = _registry(args).create(args.name, display_name=args.display_name, color=args.color,
                                          currency=args.currency, logo=args.logo, actor=args.actor)
    _print({**row, "api_key": api_key,
            "note": "the API key is shown this once and stored only as a salted hash: keep it in a secret store"})
    return 0


@_guarded
def run_configure(args) -> int:
    from fintech_dataops.lib.tenancy.paths import TenantError

    settings = {}
    for item in args.settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise TenantError(f"--set wants KEY=JSON, got {item!r}")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value  # a bare word (EUR) is a string
    profile = _registry(args).configure(args.name, actor=args.actor, display_name=args.display_name,
                                        color=args.color, logo=args.logo, settings=settings)
    _print(profile.model_dump(mode="json"))
    return 0


@_guarded
def run_show(args) -> int:
    _print(_registry(args).profile(args.name).model_dump(mode="json"))
    return 0


@_guarded
def run_list(args) -> int:
    _print({"tenants": _registry(args).listing()})
    return 0


@_guarded
def run_rotate(args) -> int:
    key_id, api_key = _registry(args).rotate_key(args.name, actor=args.actor)
    _print({"tenant": args.name, "key_id": key_id, "api_key": api_key,
            "note": "every previous key of this tenant stopped working, and every open advisor customer session"})
    return 0


@_guarded
def run_staff_key(args) -> int:
    registry = _registry(args)
    if args.revoke:
        revoked = registry.revoke_staff_key(args.name, args.analyst, actor=args.actor)
        _print({"tenant": args.name, "analyst": args.analyst, "revoked_key_ids": revoked})
        return 0
    key_id, staff_key = registry.add_staff_key(args.name, args.analyst, actor=args.actor)
    _print({"tenant": args.name, "analyst": args.analyst, "key_id": key_id, "staff_key": staff_key,
            "note": "shown this once, stored only as a salted hash; the analyst signs in at /monitor/login "
                    "(any previous key of this analyst stopped working)"})
    return 0


@_guarded
def run_delete(args) -> int:
    from fintech_dataops.lib.tenancy.paths import TenantError

    if not args.yes:
        raise TenantError(f"deleting {args.name!r} removes all of its data for good: add --yes")
    result = _registry(args).delete(args.name, actor=args.actor)
    _print({**result, "dagster_runs_removed": _forget_dagster_runs(args.name)})
    return 0


def _forget_dagster_runs(name: str) -> int:
    """Runs (and their event logs) of the tenant in the shared Dagster instance ($DAGSTER_HOME), if any."""
    home = os.environ.get("DAGSTER_HOME")
    if not home or not (Path(home) / "dagster.yaml").is_file():
        return 0  # no shared instance: the tenant's own dagster_home went with its folder
    import dagster as dg

    from fintech_dataops.lib.tenancy.workspace import location_name

    with dg.DagsterInstance.get() as instance:
        run_ids = {run.run_id for tags in ({"tenant": name}, {"dagster/code_location": location_name(name)})
                   for run in instance.get_runs(filters=dg.RunsFilter(tags=tags))}
        for run_id in run_ids:
            instance.delete_run(run_id)
    return len(run_ids)


@_guarded
def run_audit(args) -> int:
    from fintech_dataops.lib.tenancy.registry import verify_audit_log

    registry = _registry(args)
    verify_audit_log(registry.audit_path)
    if registry.audit_path.is_file():
        sys.stdout.write(registry.audit_path.read_text())
    return 0


@_guarded
def run_workspace(args) -> int:
    from fintech_dataops.lib.tenancy.workspace import workspace_yaml

    text = workspace_yaml(_registry(args).names(), include_default=not args.without_default)
    if args.out:
        from fintech_dataops.lib.ingestion.landing import write_atomic

        write_atomic(args.out, text.encode())
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def run_backfill(args) -> int:
    """Each day is its own run, tagged with its tenant and partition, recorded in $DAGSTER_HOME's instance."""
    from fintech_dataops.lib.ingestion.landing import resolve_data_dir
    from fintech_dataops.lib.tenancy.paths import TENANT_ENV, TenantError, validate_tenant_name

    try:
        os.environ[TENANT_ENV] = validate_tenant_name(args.name)  # this process and every step process
        data_dir = resolve_data_dir(args.data_dir)
    except TenantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import dagster as dg

    from fintech_dataops.commands.pipeline import ensure_dagster_home

    ensure_dagster_home(data_dir)
    job = dg.build_reconstructable_job("fintech_dataops.tenant_definitions", "tenant_job",
                                       reconstructable_args=(args.job,))
    selection = [dg.AssetKey.from_user_string(k.strip()) for k in args.select.split(",")] if args.select else None
    end = args.end or args.start
    days = [args.start + timedelta(days=i) for i in range((end - args.start).days + 1)]
    failed = 0
    with dg.DagsterInstance.get() as instance:
        reason = queue_unavailable(instance)
        if reason is None:
            return _submit_backfill(instance, args, days, selection)
        print(f"note: {reason}: running the backfill here, directly — the per-bank run limits of the queue "
              "do not apply (deploy/tenants/dagster.yaml with `dagster-daemon run` queues it)", file=sys.stderr)
        for day in days:
            with dg.execute_job(
                job, instance=instance, asset_selection=selection, raise_on_error=False,
                tags={"dagster/partition": day.isoformat(), "tenant": args.name, "fintech/trigger": "tenant-backfill"},
                run_config={"execution": {"config": {"multiprocess": {"max_concurrent": args.max_concurrent}}}},
            ) as result:
                failed += not result.success
                print(json.dumps({"tenant": args.name, "partition": day.isoformat(), "run_id": result.run_id,
                                  "success": result.success}), flush=True)
    return 1 if failed else 0


def queue_unavailable(instance) -> str | None:
    """Why runs submitted to ``instance`` would not be dequeued (None: a queue with a live daemon)."""
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster._daemon.controller import get_daemon_statuses

    if not isinstance(instance.run_coordinator, QueuedRunCoordinator):
        return f"this instance has no run queue ({type(instance.run_coordinator).__name__})"
    daemon = "QUEUED_RUN_COORDINATOR"
    status = get_daemon_statuses(instance, [daemon], ignore_errors=True)[daemon]
    if not status.healthy:
        return "no dagster-daemon is dequeuing this instance's run queue (no recent heartbeat)"
    return None


def _submit_backfill(instance, args, days, selection) -> int:
    """One queued run per day from the tenant's code location (``tenant-<name>``), so the queue's
    per-bank tag limits (``dagster/code_location``, ``dagster/backfill``) apply to it."""
    from dagster._core.definitions.selector import JobSubsetSelector
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    from fintech_dataops.lib.tenancy.workspace import location_name

    location = location_name(args.name)
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name="fintech_dataops.tenant_definitions",
                             attribute=args.name, working_directory=os.getcwd()),
        location_name=location)
    run_config = {"execution": {"config": {"multiprocess": {"max_concurrent": args.max_concurrent}}}}
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as context:
        workspace = context.create_request_context()
        code_location = workspace.get_code_location(location)
        repository = next(iter(code_location.get_repositories().values()))
        remote_job = code_location.get_job(JobSubsetSelector(
            location_name=location, repository_name=repository.name, job_name=args.job, op_selection=None,
            asset_selection=selection))
        plan = code_location.get_execution_plan(remote_job, run_config, step_keys_to_execute=None,
                                                known_state=None, instance=instance).execution_plan_snapshot
        for day in days:
            run = instance.create_run(
                job_name=args.job, run_id=None, run_config=run_config,
                resolved_op_selection=remote_job.resolved_op_selection,
                step_keys_to_execute=plan.step_keys_to_execute, op_selection=None, status=None,
                root_run_id=None, parent_run_id=None,
                tags={**remote_job.tags, "dagster/partition": day.isoformat(), "tenant": args.name,
                      "fintech/trigger": "tenant-backfill"},
                job_snapshot=remote_job.job_snapshot, execution_plan_snapshot=plan,
                parent_job_snapshot=remote_job.parent_job_snapshot,
                remote_job_origin=remote_job.get_remote_origin(), job_code_origin=remote_job.get_python_origin(),
                asset_selection=frozenset(selection) if selection else None, asset_check_selection=None,
                asset_graph=repository.asset_graph)
            run = instance.submit_run(run.run_id, workspace)
            print(json.dumps({"tenant": args.name, "partition": day.isoformat(), "run_id": run.run_id,
                              "status": run.status.value, "code_location": location}), flush=True)
    print(f"queued {len(days)} run(s) for tenant {args.name}: the daemon starts them within the per-bank limits "
          "(watch them in the UI or `dagster run list`)", file=sys.stderr)
    return 0
