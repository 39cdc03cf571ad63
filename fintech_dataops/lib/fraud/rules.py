"""Fraud rules as data: each rule has an id, a threshold, an action and a human reason.

An analyst changes a threshold (or switches a rule off) in configuration —
``RuleConfig`` is plain data that Dagster ``Config`` and the CLI fill in, their
defaults read from it (one source) — without touching code. The configured rules
are saved once per data dir (:func:`save_rules`, by the ``fraud/model`` asset) and
every path reads them back with :func:`active_rules`: batch scoring, the online
service, ``fraud score`` and ``fraud backtest``, so they agree whatever is configured. Rules are evaluated vectorised on the feature frame
built by :mod:`fintech_dataops.lib.fraud.features`, which already holds the
event-time velocity count of every transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HIGH_VALUE = "HIGH_VALUE"
VELOCITY = "VELOCITY"
# No reference rate for the amount's currency on (or shortly before) its day: the amount cannot be
# judged in the reporting currency, so the transaction is reviewed — never approved blind.
FX_RATE_MISSING = "FX_RATE_MISSING"
RULE_IDS = (HIGH_VALUE, VELOCITY, FX_RATE_MISSING)
ACTIONS = ("review", "block")


@dataclass(frozen=True)
class RuleConfig:
    """Thresholds of the fraud rules (the defaults are the platform's seed rules).

    - ``HIGH_VALUE``: amount in the reporting currency ``> high_value_amount`` (strictly: 800.00
      is not flagged; GBP 700 is, when it is worth more than $800 that day).
    - ``VELOCITY``: more than ``velocity_max_transactions`` transactions by the same
      customer whose event times lie less than ``velocity_window_s`` seconds apart,
      i.e. within (t - window, t]; every transaction completing such a window is flagged.
    """

    high_value_amount: float = 800.0
    high_value_action: str = "review"
    high_value_enabled: bool = True
    # Policy reviews: every transaction above the limit is reviewed whatever its risk, so these
    # reviews are reported apart and do not consume the model's false-positive budget.
    high_value_mandatory: bool = True
    velocity_max_transactions: int = 3
    velocity_window_s: float = 10.0
    velocity_action: str = "review"
    velocity_enabled: bool = True

    def __post_init__(self) -> None:
        for action in (self.high_value_action, self.velocity_action):
            if action not in ACTIONS:
                raise ValueError(f"rule action must be one of {ACTIONS}, got {action!r}")
        if self.velocity_window_s <= 0 or self.velocity_max_transactions < 0:
            raise ValueError("velocity_window_s must be > 0 and velocity_max_transactions >= 0")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> RuleConfig:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (values or {}).items() if k in known})


RULES_FILE = "rules.json"


def rules_path(models_dir: str | Path) -> Path:
    """``<models dir>/fraud/rules.json``: the rule configuration every scoring path reads."""
    return Path(models_dir) / "fraud" / RULES_FILE


def save_rules(models_dir: str | Path, config: RuleConfig) -> Path:
    """Make ``config`` the active rules of this data dir (atomic, durable)."""
    from fintech_dataops.lib.ingestion.landing import write_atomic

    return write_atomic(rules_path(models_dir), (json.dumps(config.as_dict(), indent=2, sort_keys=True) + "\n").encode())


def active_rules(models_dir: str | Path) -> RuleConfig:
    """The configured rules (:func:`save_rules`), else those the CURRENT model was trained with, else the defaults."""
    path = rules_path(models_dir)
    if path.exists():
        return RuleConfig.from_dict(json.loads(path.read_text()))
    from fintech_dataops.lib.fraud.model import current_version, read_manifest

    if current_version(Path(models_dir)):
        try:
            return RuleConfig.from_dict(read_manifest(Path(models_dir)).get("rule_config"))
        except (FileNotFoundError, ValueError):
            pass
    return RuleConfig()


def rules_for_model(models_dir: str | Path, model=None) -> RuleConfig:
    """:func:`active_rules`, with the VELOCITY window the model's features were computed with (one window)."""
    from dataclasses import replace

    rules = active_rules(models_dir)
    if model is not None:
        rules = replace(rules, velocity_window_s=float(model.feature_config.velocity_window_s))
    return rules


@dataclass(frozen=True)
class RuleHits:
    """Boolean hit columns per rule (aligned with the scored frame) and the reason texts."""

    hits: dict[str, np.ndarray]
    reasons: dict[str, np.ndarray]
    actions: dict[str, str] = field(default_factory=dict)
    mandatory: frozenset[str] = frozenset()

    def any_hit(self) -> np.ndarray:
        if not self.hits:
            return np.zeros(0, dtype=bool)
        return np.logical_or.reduce(list(self.hits.values()))

    def discretionary_hit(self, n: int) -> np.ndarray:
        """Rows flagged by a rule that is not a mandatory policy review."""
        masks = [m for rule_id, m in self.hits.items() if rule_id not in self.mandatory]
        return np.logical_or.reduce(masks) if masks else np.zeros(n, dtype=bool)

    def counts(self) -> dict[str, int]:
        return {rule_id: int(mask.sum()) for rule_id, mask in self.hits.items()}


def evaluate_rules(features: pd.DataFrame | Mapping[str, np.ndarray], config: RuleConfig,
                   reporting_currency: str = "USD") -> RuleHits:
    """Evaluate every enabled rule on a feature frame (``amount_reporting`` or ``amount``, ``velocity_count``).

    Amounts are judged in the reporting currency (``amount_reporting``, from ``lib.money.fx``); a
    frame without it is taken to be in the reporting currency already. ``fx_rate_missing`` rows
    are reviewed (FX_RATE_MISSING). ``features`` may also be a mapping of equal-length numpy
    arrays (the online fast path).
    """
    column = "amount_reporting" if "amount_reporting" in features else "amount"
    if isinstance(features, pd.DataFrame):
        amount = features[column].to_numpy(dtype="float64", na_value=np.nan)
        velocity = features["velocity_count"].to_numpy(dtype="int64")
    else:
        amount = np.asarray(features[column], dtype="float64")
        velocity = np.asarray(features["velocity_count"], dtype="int64")
    n = len(amount)
    missing = np.zeros(n, dtype=bool)
    if "fx_rate_missing" in features:
        missing = np.asarray(features["fx_rate_missing"], dtype=bool)
    hits: dict[str, np.ndarray] = {}
    reasons: dict[str, np.ndarray] = {}
    actions: dict[str, str] = {}
    if config.high_value_enabled:
        # NaN amounts (no rate) compare False: FX_RATE_MISSING reviews them instead.
        mask = amount > config.high_value_amount
        hits[HIGH_VALUE] = mask
        reasons[HIGH_VALUE] = _format_where(
            mask, lambda idx: [f"HIGH_VALUE: amount {a:,.2f} > {config.high_value_amount:,.2f} {reporting_currency}"
                               for a in amount[idx]], n
        )
        actions[HIGH_VALUE] = config.high_value_action
    if missing.any():
        hits[FX_RATE_MISSING] = missing
        reasons[FX_RATE_MISSING] = _format_where(
            missing, lambda idx: [f"fx_rate_missing: no reference rate into {reporting_currency} on or shortly "
                                  "before the transaction's day; amount not judged, reviewed" for _ in idx], n)
        actions[FX_RATE_MISSING] = "review"
    if config.velocity_enabled:
        mask = velocity > config.velocity_max_transactions
        hits[VELOCITY] = mask
        reasons[VELOCITY] = _format_where(
            mask,
            lambda idx: [
                f"VELOCITY: {v} transactions by this customer within {config.velocity_window_s:g} s "
                f"(limit {config.velocity_max_transactions})"
                for v in velocity[idx]
            ],
            n,
        )
        actions[VELOCITY] = config.velocity_action
    mandatory = frozenset({HIGH_VALUE} if config.high_value_enabled and config.high_value_mandatory else ()) | \
        frozenset({FX_RATE_MISSING} if FX_RATE_MISSING in hits else ())
    return RuleHits(hits=hits, reasons=reasons, actions=actions, mandatory=mandatory)


def _format_where(mask: np.ndarray, format_rows, n: int) -> np.ndarray:
    """Reason strings only where the rule fired (formatting every row would cost more than the rule)."""
    out = np.full(n, None, dtype=object)
    idx = np.flatnonzero(mask)
    if len(idx):
        out[idx] = format_rows(idx)
    return out
