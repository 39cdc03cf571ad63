"""Plaid and Stripe resources: the official SDK clients, pointed at the real APIs or the local emulator.

With no credentials configured (the embedded default) each resource starts
the sandbox emulator on 127.0.0.1 (ephemeral port) for the duration of a run
and points the real SDK at it. With credentials (``PLAID_CLIENT_ID`` /
``PLAID_SECRET`` / ``PLAID_ACCESS_TOKENS``, ``STRIPE_API_KEY``) the same
assets talk to Plaid sandbox/production and Stripe test/live mode. Secrets
come only through ``dg.EnvVar`` and are never logged or put in metadata.
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta

import dagster as dg
from pydantic import Field, PrivateAttr

EMULATOR = "emulator"


class _EmulatorSettings(dg.ConfigurableResource):
    emulator_days: int = Field(default=30, description="Days of sandbox history the emulator serves (ending today)")
    emulator_seed: int = Field(default=7, description="Seed of the emulator's deterministic data")
    emulator_customers: int = Field(
        default=0, description="Simulator population the emulator links items to (C0000001 …); 0 = as landed, else 3000")
    max_attempts: int = Field(default=5, description="Attempts per API call on 429 / 5xx (Retry-After honoured)")

    _emulator = PrivateAttr(default=None)

    def _emulator_config(self):
        from fintech_dataops.lib.ingestion.landing import resolve_data_dir
        from fintech_dataops.lib.open_banking.emulator_data import EmulatorConfig, landed_population

        customers = self.emulator_customers or landed_population(resolve_data_dir() / "landing") or 3000
        return EmulatorConfig(start=date.today() - timedelta(days=self.emulator_days), days=self.emulator_days,
                              seed=self.emulator_seed, customers=customers)

    def _start_emulator(self):
        from fintech_dataops.lib.open_banking.emulator import SandboxEmulator

        self._emulator = SandboxEmulator(self._emulator_config()).start()
        return self._emulator

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None

    @property
    def retry_policy(self):
        from fintech_dataops.lib.open_banking.retry import RetryPolicy

        return RetryPolicy(max_attempts=self.max_attempts)


class PlaidResource(_EmulatorSettings):
    """Plaid via ``plaid-python``. Empty client id and secret = the local emulator."""

    client_id: str = Field(default="", description="Plaid client id (EnvVar PLAID_CLIENT_ID); empty = emulator")
    secret: str = Field(default="", description="Plaid secret (EnvVar PLAID_SECRET); empty = emulator")
    environment: str = Field(default="sandbox", description="sandbox or production (ignored when `host` is set)")
    host: str = Field(default="", description="Explicit API base address (overrides `environment`)")
    access_tokens: str = Field(
        default="", description="JSON object customer id → item access token (EnvVar PLAID_ACCESS_TOKENS)")
    page_size: int = Field(default=100, description="/transactions/sync `count` per page (1-500)")

    _host: str = PrivateAttr(default="")
    _credentials: tuple[str, str] = PrivateAttr(default=("", ""))
    _items: dict = PrivateAttr(default_factory=dict)

    @property
    def uses_emulator(self) -> bool:
        return not (self.client_id or self.secret)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from fintech_dataops.lib.open_banking.errors import OpenBankingError
        from fintech_dataops.lib.open_banking.plaid_sync import PLAID_HOSTS

        if self.uses_emulator:
            emulator = self._start_emulator()
            self._host = emulator.url
            self._credentials = (emulator.config.plaid_client_id, emulator.config.plaid_secret)
            self._items = emulator.access_tokens
            return
        if not (self.client_id and self.secret):
            raise OpenBankingError("Plaid needs both PLAID_CLIENT_ID and PLAID_SECRET (or neither, for the emulator)")
        if not self.host and self.environment not in PLAID_HOSTS:
            raise OpenBankingError(f"unknown Plaid environment {self.environment!r}: use one of {sorted(PLAID_HOSTS)}")
        self._host = self.host or PLAID_HOSTS[self.environment]
        self._credentials = (self.client_id, self.secret)
        try:
            items = json.loads(self.access_tokens or "{}")
        except ValueError:
            raise OpenBankingError(
                "PLAID_ACCESS_TOKENS is not valid JSON: expected an object customer id → access token") from None
        if not isinstance(items, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in items.items()):
            raise OpenBankingError("PLAID_ACCESS_TOKENS must be a JSON object of customer id → access token strings")
        self._items = items

    @property
    def mode(self) -> str:
        return EMULATOR if self.uses_emulator else (self.environment if not self.host else "custom host")

    @property
    def linked_items(self) -> dict[str, str]:
        """customer id → access token of every linked item (tokens are secrets: never log them)."""
        return dict(self._items)

    def syncer(self, landing_dir, state, log=lambda message: None):
        from fintech_dataops.lib.open_banking.errors import redact
        from fintech_dataops.lib.open_banking.plaid_sync import PlaidSyncer, plaid_client

        secrets = (self._credentials[1], *self._items.values())
        return PlaidSyncer(
            plaid_client(self._host, *self._credentials), landing_dir, state, retry=self.retry_policy,
            page_size=self.page_size, log=lambda message: log(redact(message, *secrets)),
        )


class StripeResource(_EmulatorSettings):
    """Stripe via the ``stripe`` SDK. Empty API key = the local emulator."""

    api_key: str = Field(default="", description="Stripe secret or restricted key (EnvVar STRIPE_API_KEY); empty = emulator")
    api_base: str = Field(default="", description="API base address; empty = https://api.stripe.com")
    webhook_secret: str = Field(default="", description="Webhook signing secret whsec_… (EnvVar STRIPE_WEBHOOK_SECRET)")

    _api_base: str = PrivateAttr(default="")
    _api_key: str = PrivateAttr(default="")

    @property
    def uses_emulator(self) -> bool:
        return not self.api_key

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.uses_emulator:
            emulator = self._start_emulator()
            self._api_base, self._api_key = emulator.url, emulator.config.stripe_api_key
        else:
            self._api_base, self._api_key = self.api_base, self.api_key

    @property
    def mode(self) -> str:
        if self.uses_emulator:
            return EMULATOR
        return "test mode" if self.api_key.startswith(("sk_test_", "rk_test_")) else "live mode"

    def syncer(self, landing_dir, state, log=lambda message: None):
        from fintech_dataops.lib.open_banking.errors import redact
        from fintech_dataops.lib.open_banking.stripe_sync import StripeSyncer, stripe_client

        return StripeSyncer(stripe_client(self._api_key, self._api_base), landing_dir, state, retry=self.retry_policy,
                            log=lambda message: log(redact(message, self._api_key)))


def _env_or_empty(name: str):
    """Bind ``dg.EnvVar(name)`` when it is set; an unset secret means the emulator (an unset EnvVar fails config)."""
    return dg.EnvVar(name) if os.environ.get(name) else ""


def open_banking_resources() -> dict[str, dg.ConfigurableResource]:
    """Resolved when the definitions load (in each run process), never at import of this module."""
    return {
        "plaid": PlaidResource(
            client_id=_env_or_empty("PLAID_CLIENT_ID"), secret=_env_or_empty("PLAID_SECRET"),
            access_tokens=_env_or_empty("PLAID_ACCESS_TOKENS"),
            environment=os.environ.get("PLAID_ENV", "sandbox"),
        ),
        "stripe": StripeResource(
            api_key=_env_or_empty("STRIPE_API_KEY"), webhook_secret=_env_or_empty("STRIPE_WEBHOOK_SECRET"),
            api_base=os.environ.get("STRIPE_API_BASE", ""),
        ),
    }
