"""The ``fintech-dataops`` command.

Each command group lives in ``fintech_dataops/commands/<name>.py`` and exposes
``register(subparsers)``; the handler it sets returns the process exit code.
Heavy imports (dagster, scikit-learn) happen inside handlers, so ``--help``
and light commands start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

COMMAND_MODULES = (
    "fintech_dataops.commands.simulate",
    "fintech_dataops.commands.pipeline",
    "fintech_dataops.commands.sql",
    "fintech_dataops.commands.realtime",
    "fintech_dataops.commands.credit",
    "fintech_dataops.commands.fraud",
    "fintech_dataops.commands.recover",
    "fintech_dataops.commands.open_banking",
    "fintech_dataops.commands.tenant",
    "fintech_dataops.commands.monitor",
    "fintech_dataops.commands.ledger",
    "fintech_dataops.commands.advisor",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fintech-dataops",
        description="Fintech data platform: feeds → raw → core → fraud / credit → marts, on DuckDB + Dagster.",
    )
    parser.add_argument(
        "--data-dir", default=None,
        help="Data dir (default: $FINTECH_DATA_DIR or ./data): landing zone, warehouse, models, reports",
    )
    parser.add_argument(
        "--tenant", default=None,
        help="Tenant (bank) to work for (default: $FINTECH_TENANT, else the default tenant = the data dir itself)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.data_dir:
        import os

        # Child processes (dagster run workers, services) must see the same data dir.
        os.environ["FINTECH_DATA_DIR"] = args.data_dir
    if args.tenant:
        import os

        from fintech_dataops.lib.tenancy.paths import TENANT_ENV, TenantError, validate_tenant_name

        try:
            validate_tenant_name(args.tenant)
        except TenantError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        os.environ[TENANT_ENV] = args.tenant  # ... and the same tenant
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    from fintech_dataops.lib.serving import interrupted_exit_code, stop_handlers
    from fintech_dataops.lib.tenancy.paths import TenantError, UnknownTenant

    paths = [value for value in vars(args).values() if isinstance(value, Path)]
    if paths and args.command != "tenant":  # (`tenant …` is the operator's, across tenants)
        from fintech_dataops.lib.ingestion.landing import resolve_platform_dir
        from fintech_dataops.lib.tenancy.paths import refuse_other_tenants_paths

        try:
            refuse_other_tenants_paths(paths, resolve_platform_dir(args.data_dir))
        except TenantError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    try:
        with stop_handlers():  # SIGTERM stops every command as SIGINT does, whatever the parent left
            return int(args.handler(args) or 0)
    except UnknownTenant as exc:  # --tenant / $FINTECH_TENANT names no registered tenant
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return interrupted_exit_code()


if __name__ == "__main__":
    sys.exit(main())
