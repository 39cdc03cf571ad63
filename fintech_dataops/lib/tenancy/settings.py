"""A tenant's profile: branding and the settings it overrides (validated; unset = platform default).

Stored as ``<tenant root>/tenant.json`` next to the tenant's own data, so a process
working for a tenant reads its settings without reading the platform registry
(least privilege). Secrets are never stored here: an alert sink names the
environment variable that holds its webhook URL.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fintech_dataops.lib.credit.config import COMPONENTS
from fintech_dataops.lib.fraud.rules import RuleConfig
from fintech_dataops.lib.tenancy.paths import PROFILE_FILE
from fintech_dataops.schemas.vocabulary import CURRENCY_CODES

BRANDING_FOLDER = "branding"
LOGO_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".webp": "image/webp"}
MAX_LOGO_BYTES = 256 * 1024
_COLOR_RE = re.compile(r"#[0-9a-fA-F]{6}")
_ENV_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]{2,63}")


def _currency(value: str | None) -> str | None:
    if value is None:
        return None
    code = str(value).upper()
    if code not in CURRENCY_CODES:
        raise ValueError(f"unsupported currency {value!r}: one of {', '.join(sorted(CURRENCY_CODES))}")
    return code


class AlertSinkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slack_webhook_env: str | None = Field(
        default=None, description="name of the environment variable holding this tenant's Slack webhook URL")

    @field_validator("slack_webhook_env")
    @classmethod
    def _env_name(cls, value):
        if value is not None and not _ENV_NAME_RE.fullmatch(value):
            raise ValueError(f"not an environment variable name: {value!r}")
        return value


class TenantSettings(BaseModel):
    """What a bank may set for itself; every field unset (None) = the platform default."""

    model_config = ConfigDict(extra="forbid")
    reporting_currency: str | None = None
    fraud_rules: dict[str, float | int | str | bool] = Field(default_factory=dict)
    credit_approve_cutoff: int | None = Field(default=None, ge=300, le=850)
    credit_weights: dict[str, float] | None = None
    quarantine_error_rate: float | None = Field(default=None, gt=0, le=1)
    alert_sinks: AlertSinkSettings = Field(default_factory=AlertSinkSettings)
    # The online service's limit for this tenant's API key, all its clients together (a token bucket);
    # unset = no tenant-wide limit (the service's per-client limit still applies).
    max_requests_per_second: float | None = Field(default=None, gt=0, le=1_000_000)
    request_burst: int | None = Field(default=None, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _burst_needs_a_rate(self):
        if self.request_burst is not None and self.max_requests_per_second is None:
            raise ValueError("request_burst needs max_requests_per_second (the sustained rate it bursts above)")
        return self

    @field_validator("reporting_currency")
    @classmethod
    def _reporting_currency(cls, value):
        return _currency(value)

    @field_validator("fraud_rules")
    @classmethod
    def _rules(cls, value: dict) -> dict:
        unknown = set(value) - set(RuleConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fraud rule setting(s) {sorted(unknown)}: "
                             f"one of {sorted(RuleConfig.__dataclass_fields__)}")
        RuleConfig.from_dict(value)  # its own checks (actions, windows)
        return value

    @field_validator("credit_weights")
    @classmethod
    def _weights(cls, value):
        if value is None:
            return value
        if set(value) != set(COMPONENTS):
            raise ValueError(f"credit_weights must give every component {list(COMPONENTS)}")
        if any(w < 0 for w in value.values()) or abs(sum(value.values()) - 1.0) > 1e-6:
            raise ValueError("credit_weights must be non-negative and sum to 1")
        return value

    def rule_config(self) -> RuleConfig:
        defaults = RuleConfig()  # the platform's; each override takes its field's type (JSON 500 -> 500.0)
        return RuleConfig.from_dict({k: type(getattr(defaults, k))(v) for k, v in self.fraud_rules.items()})

    def quarantine_thresholds(self, platform):
        """``platform`` (a ``QuarantineThresholds``) with this tenant's error rate (warn never above it)."""
        if self.quarantine_error_rate is None:
            return platform
        import dataclasses

        rate = self.quarantine_error_rate
        return dataclasses.replace(platform, error_rate=rate, warn_rate=min(platform.warn_rate, rate))


class TenantProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str
    display_name: str = Field(min_length=1, max_length=80)
    color: str = "#1f4e79"
    logo: str | None = None  # file name under <tenant root>/branding/
    settings: TenantSettings = Field(default_factory=TenantSettings)

    @field_validator("color")
    @classmethod
    def _color(cls, value: str) -> str:
        if not _COLOR_RE.fullmatch(value):
            raise ValueError(f"colour must be #RRGGBB, got {value!r}")
        return value.lower()

    @model_validator(mode="after")
    def _logo_name(self):
        if self.logo is not None and (Path(self.logo).name != self.logo or Path(self.logo).suffix not in LOGO_TYPES):
            raise ValueError(f"logo must be a file name ending in one of {sorted(LOGO_TYPES)}")
        return self


def current_settings() -> TenantSettings:
    """The selected tenant's settings (``$FINTECH_TENANT``); the default tenant has none (platform defaults).

    Read where a default is defined, when a tenant's code location builds its definitions.
    """
    from fintech_dataops.lib.tenancy.paths import DEFAULT_TENANT, current_tenant

    if current_tenant() == DEFAULT_TENANT:
        return TenantSettings()
    from fintech_dataops.lib.ingestion.landing import resolve_data_dir

    return read_profile(resolve_data_dir()).settings


def read_profile(root: Path) -> TenantProfile | None:
    path = Path(root) / PROFILE_FILE
    if not path.is_file():
        return None
    return TenantProfile.model_validate_json(path.read_bytes())


def profile_json(profile: TenantProfile) -> bytes:
    return (json.dumps(profile.model_dump(mode="json", exclude_none=False), indent=2) + "\n").encode()


def logo_data_uri(root: Path, profile: TenantProfile) -> str | None:
    """The logo inlined as a data: URI (reports and pages stay self-contained, no file server)."""
    import base64

    if not profile.logo:
        return None
    data = (Path(root) / BRANDING_FOLDER / profile.logo).read_bytes()
    return f"data:{LOGO_TYPES[Path(profile.logo).suffix]};base64,{base64.b64encode(data).decode()}"
