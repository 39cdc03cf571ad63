"""Allowed values and limits shared by the feed contracts (one place to change a domain rule)."""

from __future__ import annotations

from datetime import date, timedelta

# ISO 4217 codes the platform settles in or accepts from partners.
CURRENCY_CODES = (
    "USD", "EUR", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN", "ISK",
    "CAD", "MXN", "BRL", "ARS", "CLP", "COP", "PEN", "JPY", "CNY", "HKD", "SGD", "KRW", "INR",
    "IDR", "THB", "MYR", "PHP", "VND", "AUD", "NZD", "ZAR", "NGN", "KES", "EGP", "MAD", "TRY",
    "ILS", "AED", "SAR", "QAR", "UAH", "BHD", "KWD", "OMR", "JOD",
)
CHANNELS = (
    "pos", "online", "ecommerce", "atm", "contactless", "mobile", "in_app", "moto", "recurring",
    "card_present", "card_not_present", "transfer",
)
SEGMENTS = ("mass", "affluent", "student", "small_business")
EVENT_TYPES = (
    "login", "login_failed", "app_open", "logout", "device_change", "password_change", "password_reset",
    "address_change", "email_change", "phone_change", "payment_method_added", "payment_method_removed",
)
EDUCATION_LEVELS = ("none", "high_school", "bachelor", "master", "doctorate")
LOAN_STATUSES = ("current", "paid_off", "late", "default", "charged_off")
LOAN_PURPOSES = ("debt_consolidation", "home_improvement", "car", "education", "medical", "business", "other")
PLAN_TYPES = ("prepaid", "postpaid", "internet", "bundle")

# ISO 4217 "minor unit" column (the SIX maintenance agency's list-one). Most currencies have 2; these differ.
MINOR_UNITS_NOT_TWO = {
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "PYG": 0, "XOF": 0, "XAF": 0,
    "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
}
DEFAULT_MINOR_UNITS = 2
# The most decimals any accepted currency allows: money columns store this many (DECIMAL(18, 3)).
MAX_MINOR_UNITS = 3


def minor_units(currency: str) -> int:
    """Decimals ``currency`` allows (ISO 4217): JPY 0, USD 2, BHD 3."""
    return MINOR_UNITS_NOT_TWO.get(str(currency).upper(), DEFAULT_MINOR_UNITS)


# Money is in major units. A single card payment above this is a data error, not a purchase.
MAX_TRANSACTION_AMOUNT = 1_000_000.0
MAX_LOAN_AMOUNT = 10_000_000.0
MAX_BILL_AMOUNT = 100_000.0
MAX_MONTHLY_INCOME = 10_000_000.0
MAX_TERM_MONTHS = 480

# Clocks drift: an event may be stamped a little ahead of our clock, not more.
FUTURE_SKEW = timedelta(minutes=5)

# The first day the platform has partitions for (daily partitions start here): an event stamped
# earlier cannot be processed, so both the service and the quality gate refuse it.
FIRST_EVENT_DAY = date(2025, 1, 1)
