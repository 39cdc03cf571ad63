"""Everything a credit officer may tune, in one frozen dataclass.

Defaults are the v2.0 policy: component weights 0.30 / 0.20 / 0.10 / 0.10 /
0.15 / 0.15 (transaction history, spending power, academic, loan history,
utilities, telco). The weights are normalised when used, so they only need to
be non-negative with a positive sum; :meth:`ScoringConfig.validated` rejects
anything else before a run starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

MODEL_VERSION = "credit-v2.0"

COMPONENTS: tuple[str, ...] = (
    "transaction_history", "spending_power", "academic", "loan_history", "utilities", "telco",
)

DEFAULT_WEIGHTS: dict[str, float] = {
    "transaction_history": 0.30,
    "spending_power": 0.20,
    "academic": 0.10,
    "loan_history": 0.10,
    "utilities": 0.15,
    "telco": 0.15,
}

SCORE_MIN = 300
SCORE_MAX = 850

# (lower bound inclusive, band) in ascending order; the usual 300-850 bands.
DEFAULT_BANDS: tuple[tuple[int, str], ...] = (
    (300, "poor"), (580, "fair"), (670, "good"), (740, "very_good"), (800, "exceptional"),
)
NO_SCORE_BAND = "no_score"


@dataclass(frozen=True)
class ScoringConfig:
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    bands: tuple[tuple[int, str], ...] = DEFAULT_BANDS
    # Traditional scorability: this much history with the platform (tenure + card/bank
    # transactions) or with partner lenders (oldest loan opened at least this long ago).
    traditional_min_history_days: int = 182
    traditional_min_transactions: int = 10
    # Enhanced scorability: traditional, or at least this many independent sources
    # (components) and this much evidence (0-1, see scoring.evidence) — what
    # academic, utility and telco records can provide on their own.
    enhanced_min_sources: int = 2
    enhanced_min_evidence: float = 0.15
    # Reason codes: at most this many, each costing at least this many points.
    max_reasons: int = 4
    min_reason_points: float = 1.0
    # Loan decisions.
    approve_cutoff: int = 640
    manual_review_margin: int = 30          # [cutoff - margin, cutoff) goes to a person
    max_request_to_monthly_income: float = 8.0
    model_version: str = MODEL_VERSION

    def validated(self) -> "ScoringConfig":
        unknown = set(self.weights) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown components in weights: {sorted(unknown)}; expected {list(COMPONENTS)}")
        values = [float(self.weights.get(c, 0.0)) for c in COMPONENTS]
        if any(v < 0 or v != v for v in values) or sum(values) <= 0:
            raise ValueError(f"weights must be non-negative with a positive sum, got {self.weights}")
        lows = [low for low, _ in self.bands]
        if not lows or lows[0] != SCORE_MIN or lows != sorted(lows):
            raise ValueError(f"bands must ascend from {SCORE_MIN}, got {self.bands}")
        if not 0 <= self.max_reasons <= 10:
            raise ValueError("max_reasons must be in [0, 10]")
        if not SCORE_MIN <= self.approve_cutoff <= SCORE_MAX or self.manual_review_margin < 0:
            raise ValueError("approve_cutoff must be in [300, 850] and manual_review_margin >= 0")
        return self

    def normalised_weights(self) -> tuple[float, ...]:
        values = [float(self.weights.get(c, 0.0)) for c in COMPONENTS]
        total = sum(values)
        return tuple(v / total for v in values)

    def with_weights(self, **weights: float) -> "ScoringConfig":
        return replace(self, weights={**self.weights, **weights})
