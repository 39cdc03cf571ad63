"""Feature rows for credit unit tests (the columns of ``credit.features``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

AS_OF = dt.datetime(2026, 10, 30, 23, 59, 59)


def best_row(customer_id: str = "C_BEST") -> dict:
    """A customer at the best attainable value of every factor."""
    return {
        "customer_id": customer_id, "as_of": AS_OF, "tenure_days": 4000, "observed_days": 30,
        "declared_monthly_income": 20_000.0, "tx_count": 120, "tx_invalid_amounts": 0, "tx_active_days": 30,
        "tx_spend": 10.0, "tx_daily_spend_cv": 0.0, "has_public_record": True, "academic_score": 100.0,
        "education_level": "doctorate", "bankruptcies": 0, "loans": 1, "loan_reports": 3,
        "loan_late_reports": 0, "loans_defaulted": 0, "loan_outstanding_open": 0.0,
        "loan_principal_open": 5000.0, "loan_history_days": 2000,
        "utility_bills": 6, "utility_accounts": 2, "utility_late": 0, "utility_unpaid": 0, "utility_partial": 0,
        "utility_history_days": 180,
        "telco_bills": 6, "telco_accounts": 1, "telco_late": 0, "telco_unpaid": 0, "telco_partial": 0,
        "telco_history_days": 180,
    }


def worst_row(customer_id: str = "C_WORST") -> dict:
    """Every factor at (or next to) its worst value; every source present."""
    return {
        **best_row(customer_id), "tenure_days": 0, "observed_days": 30, "declared_monthly_income": 400.0,
        "tx_count": 1, "tx_active_days": 1, "tx_spend": 5000.0, "tx_daily_spend_cv": 1e9,
        "academic_score": 0.0, "education_level": "none", "bankruptcies": 3, "loan_reports": 2,
        "loan_late_reports": 50, "loans_defaulted": 1, "loan_outstanding_open": 9000.0,
        "loan_principal_open": 5000.0, "loan_history_days": 0,
        "utility_bills": 4, "utility_late": 0, "utility_unpaid": 4, "utility_partial": 4,
        "telco_bills": 4, "telco_late": 0, "telco_unpaid": 4, "telco_partial": 4,
    }


def thin_file_row(customer_id: str = "C_THIN") -> dict:
    """No transactions, no partner loans: only public record, utilities and telco."""
    return {
        **best_row(customer_id), "tenure_days": 20, "tx_count": 0, "tx_active_days": 0, "tx_spend": np.nan,
        "tx_daily_spend_cv": np.nan, "loans": 0, "loan_reports": 0, "loan_late_reports": 0,
        "loans_defaulted": 0, "loan_outstanding_open": np.nan, "loan_principal_open": np.nan,
        "loan_history_days": None, "academic_score": 64.0, "education_level": "high_school",
        "utility_bills": 2, "utility_late": 1, "telco_bills": 2, "telco_partial": 1,
    }


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))
