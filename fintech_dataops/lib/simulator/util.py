"""Vectorised building blocks shared by the simulator modules (internal; no dagster).

Times are carried as int64 milliseconds since the Unix epoch (UTC) and days as
int64 day numbers since 1970-01-01 until the very end, where they become
pandas columns. String columns are built as Arrow arrays (fixed-width ASCII
buffers for ids and timestamps), which is what keeps a million records fast.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MS_SECOND = 1_000
MS_MINUTE = 60_000
MS_HOUR = 3_600_000
MS_DAY = 86_400_000
EPOCH = dt.date(1970, 1, 1)
NAT = np.iinfo(np.int64).min

# Countries of customers and merchants, and the currency charged there.
COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IE", "NL")
COUNTRY_P = (0.82, 0.07, 0.04, 0.03, 0.02, 0.01, 0.01)
CURRENCIES = ("USD", "EUR", "GBP")
COUNTRY_CURRENCY = np.array([0, 2, 1, 1, 1, 1, 1])
# ip_country values: home countries, travel destinations, then attacker countries.
TRAVEL_COUNTRIES = ("IT", "PT", "MX", "CA", "JP")
FOREIGN_IP = ("RU", "NG", "BR", "CN", "UA", "RO", "VN", "ID")
IP_COUNTRIES = COUNTRIES + TRAVEL_COUNTRIES + FOREIGN_IP

# UTC hour-of-day weights: quiet nights, lunch and evening peaks.
_HOUR_W = np.array([0.6, 0.4, 0.3, 0.25, 0.25, 0.4, 0.9, 1.8, 2.8, 3.4, 3.8, 4.4,
                    5.0, 4.8, 4.2, 4.0, 4.2, 4.8, 5.4, 5.6, 5.0, 4.0, 2.6, 1.3])
_HOUR_CDF = np.cumsum(_HOUR_W) / _HOUR_W.sum()


def rng_for(seed: int, component: int) -> np.random.Generator:
    """One independent, reproducible stream per simulator component."""
    return np.random.default_rng([int(seed), int(component)])


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def date_of(day_number: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(day_number))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def pick(rng: np.random.Generator, probs, n: int) -> np.ndarray:
    """Draw ``n`` category codes from ``probs`` (vectorised inverse CDF)."""
    cdf = np.cumsum(np.asarray(probs, dtype=float))
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


def time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Milliseconds after midnight UTC following a diurnal profile."""
    hour = np.minimum(np.searchsorted(_HOUR_CDF, rng.random(n), side="right"), 23)
    return hour.astype(np.int64) * MS_HOUR + rng.integers(0, MS_HOUR, n)


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of sizes ``counts``: (group index, rank within group) per row."""
    counts = np.asarray(counts, dtype=np.int64)
    group = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(group)) - starts[group]
    return group, rank


def group_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at each group of sizes ``counts``."""
    values = np.asarray(values)
    counts = np.asarray(counts, dtype=np.int64)
    total = np.cumsum(values)
    before = total - values
    starts = np.cumsum(counts) - counts
    base = np.zeros(len(counts), dtype=total.dtype)
    nonempty = counts > 0
    base[nonempty] = before[starts[nonempty]]
    return total - np.repeat(base, counts)


# --------------------------------------------------------------------------- ascii


def _put_digits(out: np.ndarray, col: int, values: np.ndarray, width: int) -> None:
    """Write ``width`` zero-padded decimal digits of non-negative ``values`` into ``out[:, col:]``."""
    values = np.asarray(values)
    small = len(values) == 0 or (values.min() >= 0 and values.max() < 2**32)
    v = values.astype(np.uint32 if small else np.uint64)
    digits = np.empty((width, len(v)), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        q = v // 10
        digits[k] = v - q * 10
        v = q
    digits += 48
    out[:, col: col + width] = digits.T


def fixed_width(mat: np.ndarray) -> pa.Array:
    """An (n, w) uint8 matrix of ASCII as an Arrow string array, without copies per row."""
    n, w = mat.shape
    if n == 0:
        return pa.array([], type=pa.string())
    data = pa.py_buffer(np.ascontiguousarray(mat, dtype=np.uint8))
    offsets = pa.py_buffer(np.arange(0, (n + 1) * w, w, dtype=np.int32))
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, data])


def id_array(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded number (widened automatically if a number needs it)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if len(numbers):
        width = max(width, len(str(int(numbers.max()))))
    p = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    out = np.empty((len(numbers), len(p) + width), dtype=np.uint8)
    out[:, : len(p)] = p
    _put_digits(out, len(p), numbers, width)
    return fixed_width(out)


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of day numbers (H. Hinnant's days_from_civil inverse)."""
    z = days.astype(np.int64) + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = yoe + era * 400 + (m <= 2)
    return y, m, d


def _date_into(out: np.ndarray, col: int, days: np.ndarray) -> None:
    y, m, d = _civil(days)
    _put_digits(out, col, y, 4)
    out[:, col + 4] = ord("-")
    _put_digits(out, col + 5, m, 2)
    out[:, col + 7] = ord("-")
    _put_digits(out, col + 8, d, 2)


def iso_ms_array(ms: np.ndarray, quoted: bool = False) -> pa.Array:
    """``2026-10-01T12:34:56.123Z`` for int64 epoch milliseconds (optionally in quotes)."""
    ms = np.asarray(ms, dtype=np.int64)
    q = 1 if quoted else 0
    out = np.empty((len(ms), 24 + 2 * q), dtype=np.uint8)
    days = np.floor_divide(ms, MS_DAY)
    tod = ms - days * MS_DAY
    if q:
        out[:, 0] = out[:, -1] = ord('"')
    _date_into(out, q, days)
    out[:, q + 10] = ord("T")
    _put_digits(out, q + 11, tod // MS_HOUR, 2)
    out[:, q + 13] = ord(":")
    _put_digits(out, q + 14, (tod // MS_MINUTE) % 60, 2)
    out[:, q + 16] = ord(":")
    _put_digits(out, q + 17, (tod // MS_SECOND) % 60, 2)
    out[:, q + 19] = ord(".")
    _put_digits(out, q + 20, tod % MS_SECOND, 3)
    out[:, q + 23] = ord("Z")
    return fixed_width(out)


def date_array(days: np.ndarray, quoted: bool = False) -> pa.Array:
    """``YYYY-MM-DD`` for int64 day numbers (optionally in quotes)."""
    days = np.asarray(days, dtype=np.int64)
    q = 1 if quoted else 0
    out = np.empty((len(days), 10 + 2 * q), dtype=np.uint8)
    if q:
        out[:, 0] = out[:, -1] = ord('"')
    _date_into(out, q, days)
    return fixed_width(out)


def fixed_decimal_array(values: np.ndarray, decimals: int) -> pa.Array:
    """Finite floats as JSON numbers with exactly ``decimals`` decimals (``12.50``)."""
    scale = 10 ** decimals
    scaled = np.rint(np.asarray(values, dtype=np.float64) * scale).astype(np.int64)
    neg = scaled < 0
    scaled = np.abs(scaled)
    whole = pc.cast(pa.array(scaled // scale), pa.string())
    frac = np.empty((len(scaled), decimals + 1), dtype=np.uint8)
    frac[:, 0] = ord(".")
    _put_digits(frac, 1, scaled % scale, decimals)
    text = pc.binary_join_element_wise(whole, fixed_width(frac), "")
    if neg.any():
        text = pc.if_else(pa.array(neg), pc.binary_join_element_wise("-", text, ""), text)
    return text


# --------------------------------------------------------------------------- pandas columns


def labels(values: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """Category codes as a plain string column."""
    return pc.take(pa.array(values, type=pa.string()), pa.array(np.asarray(codes, dtype=np.int64))).to_pandas()


def str_col(arr: pa.Array) -> pd.Series:
    return arr.to_pandas()


def ts_col(ms: np.ndarray) -> pd.Series:
    """int64 epoch ms → ``datetime64[ms, UTC]``."""
    return pd.Series(np.asarray(ms, dtype=np.int64).view("datetime64[ms]")).dt.tz_localize("UTC")


def date_col(days: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """int64 day numbers → naive ``datetime64[s]`` at midnight (NaT where ``missing``)."""
    secs = np.asarray(days, dtype=np.int64) * 86_400
    if missing is not None:
        secs = np.where(missing, NAT, secs)
    return pd.Series(secs.view("datetime64[s]"))


def money(values: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(values, dtype=np.float64), 2)
