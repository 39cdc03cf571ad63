"""The scored factors and the six components (documented, monotone, vectorised).

A *factor* is one measurable aspect of risk mapped to [0, 1], 1 = lowest risk.
A *component* is the weighted mean of its factors that are observed (a factor
is NaN when its input is not observed; it is then re-weighted away, never read
as 0). Every formula is a clipped monotone function of its inputs: the
direction is stated next to it and checked by the tests.

| component | factor (code) | formula | weight in component |
|---|---|---|---|
| transaction_history | TX_SHORT_TENURE | min(tenure_days / 1095, 1) (↑ tenure) | 0.40 |
| | TX_IRREGULAR_ACTIVITY | min(active-day share / 0.6, 1) (↑ regular) | 0.30 |
| | TX_LOW_VOLUME | min(log1p(tx per month) / log1p(40), 1) (↑ volume) | 0.30 |
| spending_power | SP_LOW_INCOME | clip(ln(income / 500) / ln(30), 0, 1) (↑ income) | 0.35 |
| | SP_HIGH_SPEND_TO_INCOME | clip(1 − monthly spend / income, 0, 1) (↓ spend ratio) | 0.45 |
| | SP_VOLATILE_SPENDING | 1 / (1 + CV of daily spend) (↓ volatility) | 0.20 |
| academic | AC_LOW_ACADEMIC_SCORE | academic_score / 100 (↑ score) | 0.60 |
| | AC_EDUCATION_LEVEL | level index / 4, none … doctorate (↑ level) | 0.15 |
| | AC_BANKRUPTCY | clip(1 − bankruptcies / 2, 0, 1) (↓ bankruptcies) | 0.25 |
| loan_history | LH_DEFAULT | 1 if no partner loan defaulted, else 0 | 0.40 |
| | LH_LATE_REPAYMENTS | clip(1 − late reports / (reports + 2), 0, 1) | 0.25 |
| | LH_HIGH_UTILISATION | 1 − clip(outstanding / principal of open loans, 0, 1) | 0.15 |
| | LH_SHORT_HISTORY | min(days since first loan opened / 1095, 1) | 0.20 |
| utilities, telco | UT_/TC_LATE_OR_UNPAID | clip(1 − (late + 2·unpaid) / (bills + 2), 0, 1) | 0.75 |
| | UT_/TC_PARTIAL_PAYMENTS | clip(1 − partial / (bills + 2), 0, 1) | 0.25 |

Bill payment history counts tenure through the denominator: two virtual
on-time bills act as a prior, so one slip weighs less in a long clean history
than in a short one, and every additional on-time bill can only raise the
factor (a first on-time bill scores 1.0: it never lowers anyone's score).

A component is *present* when its source has at least one observation
(transactions with a valid amount and a declared income for spending power).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fintech_dataops.lib.credit.config import COMPONENTS
from fintech_dataops.lib.credit.features import EDUCATION_LEVELS

TENURE_FULL_DAYS = 1095.0          # three years with the platform (or a partner lender) = full credit
REGULARITY_FULL_SHARE = 0.6        # active on 60 % of the observed days = full credit
VOLUME_FULL_PER_MONTH = 40.0       # 40 transactions a month = full credit
INCOME_FLOOR, INCOME_FULL = 500.0, 15_000.0
BILL_PRIOR_ON_TIME = 2.0           # virtual on-time bills (see module doc)
LOAN_PRIOR_ON_TIME = 2.0
DAYS_PER_MONTH = 30.44

Columns = Mapping[str, np.ndarray]


def as_float(values) -> np.ndarray:
    """Any column (nullable ints, objects, None) as float64 with NaN for missing."""
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def fill_nan(x: np.ndarray, value: float) -> np.ndarray:
    """NaN → ``value`` (cheaper than ``np.nan_to_num``, which also rewrites infinities)."""
    return np.where(np.isnan(x), value, x)


def _clip01(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 1.0)


def _where(present: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.where(present, values, np.nan)


def _tx_present(f: Columns) -> np.ndarray:
    return f["tx_count"] > 0


def _spend_present(f: Columns) -> np.ndarray:
    return (f["tx_spend"] > 0) & (f["declared_monthly_income"] > 0)


def _monthly(f: Columns, column: str) -> np.ndarray:
    return f[column] / np.maximum(f["observed_days"], 1.0) * DAYS_PER_MONTH


def _bills(prefix: str, kind: str) -> Callable[[Columns], np.ndarray]:
    def factor(f: Columns) -> np.ndarray:
        bills = f[f"{prefix}_bills"]
        denominator = bills + BILL_PRIOR_ON_TIME
        if kind == "on_time":
            value = 1.0 - (f[f"{prefix}_late"] + 2.0 * f[f"{prefix}_unpaid"]) / denominator
        else:
            value = 1.0 - f[f"{prefix}_partial"] / denominator
        return _where(bills > 0, _clip01(value))

    return factor


@dataclass(frozen=True)
class Factor:
    code: str
    component: str
    weight: float
    reason: str          # adverse-action text shown when this factor costs points
    formula: str         # how the value is computed (for --explain)
    inputs: tuple[str, ...]
    compute: Callable[[Columns], np.ndarray]


FACTORS: tuple[Factor, ...] = (
    Factor("TX_SHORT_TENURE", "transaction_history", 0.40,
           "Short account history with us", "min(tenure_days / 1095, 1)", ("tenure_days",),
           lambda f: _where(_tx_present(f), _clip01(f["tenure_days"] / TENURE_FULL_DAYS))),
    Factor("TX_IRREGULAR_ACTIVITY", "transaction_history", 0.30,
           "Irregular account activity", "min((tx_active_days / observed_days) / 0.6, 1)",
           ("tx_active_days", "observed_days"),
           lambda f: _where(_tx_present(f), _clip01(
               f["tx_active_days"] / np.maximum(f["observed_days"], 1.0) / REGULARITY_FULL_SHARE))),
    Factor("TX_LOW_VOLUME", "transaction_history", 0.30,
           "Low transaction volume", "min(log1p(tx per month) / log1p(40), 1)", ("tx_count", "observed_days"),
           lambda f: _where(_tx_present(f), _clip01(
               np.log1p(_monthly(f, "tx_count")) / np.log1p(VOLUME_FULL_PER_MONTH)))),
    Factor("SP_LOW_INCOME", "spending_power", 0.35,
           "Income too low for the credit requested", "clip(ln(income / 500) / ln(30), 0, 1)",
           ("declared_monthly_income",),
           lambda f: _where(_spend_present(f), _clip01(
               np.log(np.maximum(f["declared_monthly_income"], 1e-9) / INCOME_FLOOR)
               / np.log(INCOME_FULL / INCOME_FLOOR)))),
    Factor("SP_HIGH_SPEND_TO_INCOME", "spending_power", 0.45,
           "Spending is high relative to income", "clip(1 - monthly_spend / income, 0, 1)",
           ("tx_spend", "observed_days", "declared_monthly_income"),
           lambda f: _where(_spend_present(f), _clip01(
               1.0 - _monthly(f, "tx_spend") / np.maximum(f["declared_monthly_income"], 1e-9)))),
    Factor("SP_VOLATILE_SPENDING", "spending_power", 0.20,
           "Spending varies a lot from day to day", "1 / (1 + CV of daily spend)", ("tx_daily_spend_cv",),
           lambda f: _where(_spend_present(f), 1.0 / (1.0 + np.maximum(f["tx_daily_spend_cv"], 0.0)))),
    Factor("AC_LOW_ACADEMIC_SCORE", "academic", 0.60,
           "Academic record below the strongest profiles", "academic_score / 100", ("academic_score",),
           lambda f: _clip01(f["academic_score"] / 100.0)),
    Factor("AC_EDUCATION_LEVEL", "academic", 0.15,
           "Education level", "index of none < high_school < bachelor < master < doctorate, / 4",
           ("education_level",), lambda f: f["education_level_index"] / (len(EDUCATION_LEVELS) - 1)),
    Factor("AC_BANKRUPTCY", "academic", 0.25,
           "Bankruptcy on public record", "clip(1 - bankruptcies / 2, 0, 1)", ("bankruptcies",),
           lambda f: _clip01(1.0 - f["bankruptcies"] / 2.0)),
    Factor("LH_DEFAULT", "loan_history", 0.40,
           "Defaulted loan with a partner lender", "1 if no partner loan defaulted else 0", ("loans_defaulted",),
           lambda f: _where(f["loan_reports"] > 0, (f["loans_defaulted"] <= 0).astype("float64"))),
    Factor("LH_LATE_REPAYMENTS", "loan_history", 0.25,
           "Late loan repayments", "clip(1 - late_reports / (reports + 2), 0, 1)",
           ("loan_late_reports", "loan_reports"),
           lambda f: _where(f["loan_reports"] > 0, _clip01(
               1.0 - f["loan_late_reports"] / (f["loan_reports"] + LOAN_PRIOR_ON_TIME)))),
    Factor("LH_HIGH_UTILISATION", "loan_history", 0.15,
           "High balance outstanding on open loans", "1 - clip(outstanding / principal, 0, 1), open loans",
           ("loan_outstanding_open", "loan_principal_open"),
           lambda f: _where((f["loan_reports"] > 0) & (f["loan_principal_open"] > 0), 1.0 - _clip01(
               f["loan_outstanding_open"] / np.maximum(f["loan_principal_open"], 1e-9)))),
    Factor("LH_SHORT_HISTORY", "loan_history", 0.20,
           "Short loan history", "min(days since first loan opened / 1095, 1)", ("loan_history_days",),
           lambda f: _where(f["loan_reports"] > 0, _clip01(f["loan_history_days"] / TENURE_FULL_DAYS))),
    Factor("UT_LATE_OR_UNPAID", "utilities", 0.75,
           "Late or unpaid utility bills", "clip(1 - (late + 2*unpaid) / (bills + 2), 0, 1)",
           ("utility_late", "utility_unpaid", "utility_bills"), _bills("utility", "on_time")),
    Factor("UT_PARTIAL_PAYMENTS", "utilities", 0.25,
           "Utility bills paid only in part", "clip(1 - partial / (bills + 2), 0, 1)",
           ("utility_partial", "utility_bills"), _bills("utility", "partial")),
    Factor("TC_LATE_OR_UNPAID", "telco", 0.75,
           "Late or unpaid phone / internet bills", "clip(1 - (late + 2*unpaid) / (bills + 2), 0, 1)",
           ("telco_late", "telco_unpaid", "telco_bills"), _bills("telco", "on_time")),
    Factor("TC_PARTIAL_PAYMENTS", "telco", 0.25,
           "Phone / internet bills paid only in part", "clip(1 - partial / (bills + 2), 0, 1)",
           ("telco_partial", "telco_bills"), _bills("telco", "partial")),
)
FACTOR_CODES: tuple[str, ...] = tuple(f.code for f in FACTORS)
FACTOR_COMPONENT_INDEX = np.array([COMPONENTS.index(f.component) for f in FACTORS])
FACTOR_WEIGHTS = np.array([f.weight for f in FACTORS])
# Factors are listed grouped by component, in COMPONENTS order: sums per component are reduceat slices.
assert (np.diff(FACTOR_COMPONENT_INDEX) >= 0).all() and set(FACTOR_COMPONENT_INDEX) == set(range(len(COMPONENTS)))
_COMPONENT_STARTS = np.searchsorted(FACTOR_COMPONENT_INDEX, np.arange(len(COMPONENTS)))

NUMERIC_INPUTS = (
    "tenure_days", "observed_days", "declared_monthly_income", "tx_count", "tx_active_days", "tx_spend",
    "tx_daily_spend_cv", "academic_score", "bankruptcies", "loan_reports", "loan_late_reports",
    "loans_defaulted", "loan_outstanding_open", "loan_principal_open", "loan_history_days",
    "utility_bills", "utility_late", "utility_unpaid", "utility_partial",
    "telco_bills", "telco_late", "telco_unpaid", "telco_partial",
)
COUNT_INPUTS = {
    "tx_count", "tx_active_days", "loan_reports", "loan_late_reports", "loans_defaulted",
    "utility_bills", "utility_late", "utility_unpaid", "utility_partial",
    "telco_bills", "telco_late", "telco_unpaid", "telco_partial",
}


def feature_columns(features: pd.DataFrame) -> dict[str, np.ndarray]:
    """The numeric inputs as float arrays (missing → NaN; missing counts → 0)."""
    n = len(features)
    columns: dict[str, np.ndarray] = {}
    for name in NUMERIC_INPUTS:
        values = as_float(features[name]) if name in features else np.full(n, np.nan)
        columns[name] = fill_nan(values, 0.0) if name in COUNT_INPUTS else values
    levels = features["education_level"] if "education_level" in features else [None] * n
    codes = pd.Categorical(levels, categories=EDUCATION_LEVELS).codes.astype("float64")
    columns["education_level_index"] = np.where(codes < 0, np.nan, codes)
    return columns


def factor_matrix(features: pd.DataFrame | None = None, columns: Columns | None = None) -> np.ndarray:
    """(customers × factors) values in [0, 1], NaN where not observed.

    Stored factor-major (a transposed view of a factors × customers array) so that
    the per-factor arithmetic downstream runs over long contiguous rows.
    """
    columns = feature_columns(features) if columns is None else columns
    n = len(next(iter(columns.values())))
    matrix = np.empty((len(FACTORS), n))
    with np.errstate(divide="ignore", invalid="ignore"):
        for j, factor in enumerate(FACTORS):
            values = np.asarray(factor.compute(columns), dtype="float64")
            matrix[j] = np.where(np.isfinite(values), values, np.nan)
    return matrix.T


def component_matrix(factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Components (customers × 6, NaN = missing) and each factor's share of its component."""
    by_factor = factors.T  # factors × customers (contiguous when built by factor_matrix)
    observed = ~np.isnan(by_factor)
    w = FACTOR_WEIGHTS[:, None]
    weighted = np.where(observed, by_factor, 0.0) * w
    available = observed * w
    sums = np.add.reduceat(weighted, _COMPONENT_STARTS, axis=0)
    weights = np.add.reduceat(available, _COMPONENT_STARTS, axis=0)
    components = np.full_like(sums, np.nan)
    np.divide(sums, weights, out=components, where=weights > 0)
    expanded = weights[FACTOR_COMPONENT_INDEX]
    share = np.zeros_like(available)
    np.divide(available, expanded, out=share, where=expanded > 0)
    return components.T, share.T


def component_confidence(features: pd.DataFrame | None, components: np.ndarray,
                         columns: Columns | None = None) -> np.ndarray:
    """How much evidence stands behind each present component (customers × 6, in [0, 1]).

    transactions: min(tx / 20, 1); spending: min(active days / 10, 1); academic:
    1 with an academic score, 0.5 with only education/bankruptcy data; loans:
    min(days of loan history / 365, 1); utilities / telco: min(bills / 3, 1).
    """
    f = feature_columns(features) if columns is None else columns
    with np.errstate(divide="ignore", invalid="ignore"):
        confidence = np.column_stack([
            np.minimum(f["tx_count"] / 20.0, 1.0),
            np.minimum(f["tx_active_days"] / 10.0, 1.0),
            np.where(np.isnan(f["academic_score"]), 0.5, 1.0),
            np.minimum(fill_nan(f["loan_history_days"], 0.0) / 365.0, 1.0),
            np.minimum(f["utility_bills"] / 3.0, 1.0),
            np.minimum(f["telco_bills"] / 3.0, 1.0),
        ])
    return np.where(np.isnan(components), 0.0, np.clip(fill_nan(confidence, 0.0), 0.0, 1.0))
