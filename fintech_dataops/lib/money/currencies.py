"""ISO 4217 minor units (decimals a currency allows) and currencies pegged to another one.

The minor units are ISO 4217's list (the SIX maintenance agency's ``list-one``) for the currencies the
platform accepts (``schemas.vocabulary.CURRENCY_CODES``); an amount with more decimals than its
currency allows is bad input (quarantined in core, refused online).
"""

from __future__ import annotations

from decimal import Decimal

# The ISO 4217 table is contract vocabulary (the transaction contract judges decimals with it).
from fintech_dataops.lib.ingestion.feeds import MONEY_SQL_TYPE  # noqa: F401  (one definition)
from fintech_dataops.schemas.vocabulary import (  # noqa: F401
    DEFAULT_MINOR_UNITS, MAX_MINOR_UNITS, MINOR_UNITS_NOT_TWO, minor_units,
)


def minor_units_table(currencies) -> dict[str, int]:
    return {c: minor_units(c) for c in currencies}


def fits_minor_units(amount: Decimal | str | float, currency: str) -> bool:
    """True when ``amount`` has no more decimals than ``currency`` allows (1.50 USD yes, 1.5 JPY no)."""
    value = Decimal(str(amount))
    if not value.is_finite():
        return False
    return value == value.quantize(Decimal(1).scaleb(-minor_units(currency)))


# Currencies the ECB does not publish but whose central bank pegs them to one it does:
# (anchor currency, units of the pegged currency per 1 anchor, the authority that fixes it).
# The Central Bank of Bahrain has held BHD at 0.376 per USD since 1980 (formally since 2001).
PEGS: dict[str, tuple[str, Decimal, str]] = {
    "BHD": ("USD", Decimal("0.376"), "peg:Central Bank of Bahrain (0.376 BHD per USD)"),
}


def is_decimal_type(sql_type: str) -> bool:
    return str(sql_type).upper().startswith("DECIMAL")


def is_money_type(sql_type: str) -> bool:
    """A column typed as stored money (amounts in a currency), as opposed to e.g. a rate."""
    return str(sql_type).upper().replace(" ", "") == MONEY_SQL_TYPE


def decimal_scale(sql_type: str) -> int:
    """3 for DECIMAL(18,3)."""
    inside = str(sql_type)[str(sql_type).index("(") + 1:str(sql_type).index(")")]
    return int(inside.split(",")[1])
