"""JSON-lines rendering and malformed-line injection for the simulator (internal).

Rendering is vectorised with Arrow string kernels: every value becomes its
JSON text column-wise (ids and timestamps as fixed-width ASCII buffers,
amounts as integer cents) and a line is one element-wise concatenation.
Only malformed lines (a few per thousand) are handled one by one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fintech_dataops.lib.simulator import util as u
from fintech_dataops.lib.ingestion.feeds import FEED_NAMES, FEEDS

MONEY_FIELDS = frozenset({"amount", "principal", "outstanding", "bill_amount", "amount_paid",
                          "requested_amount", "declared_monthly_income"})
ONE_DECIMAL_FIELDS = frozenset({"academic_score"})
INT_FIELDS = frozenset({"birth_year", "graduation_year", "bankruptcies", "term_months", "days_past_due",
                        "months_observed"})
BOOL_FIELDS = frozenset({"is_fraud", "defaulted"})
DATE_FIELDS = frozenset({"due_date", "paid_date", "opened_date"})
# The numeric field a malformed line corrupts (wrong type / negative / NaN) per feed.
AMOUNT_FIELD = {
    "customers": "declared_monthly_income", "transactions": "amount", "public_records": "academic_score",
    "partner_loans": "principal", "utility_payments": "bill_amount", "telco_payments": "bill_amount",
    "loan_applications": "requested_amount", "fraud_labels": "amount", "loan_outcomes": "months_observed",
}

MALFORMED_KINDS = ("missing_field", "null_field", "wrong_type", "negative_amount", "nonfinite_amount",
                   "bad_currency", "bad_timestamp", "duplicate", "truncated")
EXTRA_KINDS = frozenset({"duplicate", "truncated"})
"""Kinds *added* next to the good line they copy; every other kind *replaces* its record's line."""
_CHUNK = 200_000
_POOL = pa.system_memory_pool()
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'
_NONFINITE = "@@simulator-nonfinite@@"


@dataclass
class DayLines:
    """One landing day of a feed: the clean lines (Arrow chunks, each line ending in a newline)
    plus the malformed edits, merged only when materialised (bytes for landing, str for callers)."""

    good: list[pa.Array]
    replaced: dict[int, str] = field(default_factory=dict)          # good position -> malformed line
    inserted: list[tuple[int, str]] = field(default_factory=list)   # (after good position, extra line), in order
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (landed line index, kind)

    @property
    def n_good(self) -> int:
        return sum(len(c) for c in self.good)

    def __len__(self) -> int:
        return self.n_good + len(self.inserted)

    def good_line(self, pos: int) -> str:
        for chunk in self.good:
            if pos < len(chunk):
                return chunk[pos].as_py()[:-1]
            pos -= len(chunk)
        raise IndexError(pos)

    def _merge(self, emit_good, emit_text) -> None:
        edits = sorted([(p, 0, t) for p, t in self.replaced.items()]
                       + [(p, 1 + j, t) for j, (p, t) in enumerate(self.inserted)])
        cursor = 0
        for pos, kind, text in edits:
            end = pos if kind == 0 else pos + 1
            if end > cursor:
                emit_good(cursor, end)
                cursor = end
            emit_text(text)
            if kind == 0:
                cursor = pos + 1
        if cursor < self.n_good:
            emit_good(cursor, self.n_good)

    def _good_ranges(self, lo: int, hi: int):
        base = 0
        for chunk in self.good:
            a, b = max(lo - base, 0), min(hi - base, len(chunk))
            if a < b:
                yield chunk, a, b
            base += len(chunk)

    def to_bytes(self) -> bytes:
        """The landed file content (newline-terminated lines), straight from the Arrow buffers."""
        pieces: list = []

        def emit_good(lo: int, hi: int) -> None:
            for chunk, a, b in self._good_ranges(lo, hi):
                offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[chunk.offset: chunk.offset + len(chunk) + 1]
                pieces.append(memoryview(chunk.buffers()[2])[int(offsets[a]): int(offsets[b])])

        self._merge(emit_good, lambda text: pieces.append((text + "\n").encode("utf-8")))
        return b"".join(pieces)

    def to_list(self) -> list[str]:
        out: list[str] = []

        def emit_good(lo: int, hi: int) -> None:
            for chunk, a, b in self._good_ranges(lo, hi):
                out.extend(pc.utf8_slice_codeunits(chunk.slice(a, b - a), 0, -1).to_pylist())

        self._merge(emit_good, out.append)
        return out


@dataclass
class RenderedFeed:
    """One feed rendered for landing, per landing day."""

    feed: str
    days: dict[dt.date, DayLines] = field(default_factory=dict)

    @property
    def lines(self) -> dict[dt.date, list[str]]:
        """Landed lines per day (without newline), malformed ones included."""
        return {day: d.to_list() for day, d in self.days.items()}

    @property
    def malformed(self) -> dict[dt.date, list[tuple[int, str]]]:
        """(line index, kind) of every malformed line, per day (days without any are left out)."""
        return {day: d.malformed for day, d in self.days.items() if d.malformed}

    @property
    def n_lines(self) -> int:
        return sum(len(d) for d in self.days.values())

    @property
    def n_good(self) -> int:
        return sum(d.n_good for d in self.days.values())

    @property
    def n_malformed(self) -> int:
        return sum(len(d.malformed) for d in self.days.values())

    @property
    def n_extra(self) -> int:
        return sum(len(d.inserted) for d in self.days.values())

    def kind_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(MALFORMED_KINDS, 0)
        for d in self.days.values():
            for _, kind in d.malformed:
                counts[kind] += 1
        return {k: c for k, c in counts.items() if c}


# --------------------------------------------------------------------------- values → JSON text


def _epoch_ms(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    s = series
    if not pd.api.types.is_datetime64_any_dtype(s):
        s = pd.to_datetime(s, utc=True)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    values = s.to_numpy(dtype="datetime64[ms]").view(np.int64)
    missing = values == u.NAT
    return np.where(missing, 0, values), missing


def _epoch_days(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    s = series if pd.api.types.is_datetime64_any_dtype(series) else pd.to_datetime(series)
    values = s.to_numpy(dtype="datetime64[D]").view(np.int64)
    missing = values == u.NAT
    return np.where(missing, 0, values), missing


def _with_nulls(text: pa.Array, missing: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(missing), "null", text) if missing.any() else text


def _has_escapes(arr: pa.Array) -> bool:
    """Whether any value holds a quote, a backslash or a control character (scans the raw buffer)."""
    data_buf = arr.buffers()[2]
    if data_buf is None or len(arr) == 0:
        return False
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset: arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0]: offsets[-1]]
    return bool(((data == 34) | (data == 92) | (data < 32)).any())


def _json_values(series: pd.Series, name: str) -> tuple[pa.Array, bool]:
    """The JSON text of every value of one column (``null`` for missing values).

    Returns (text, needs_quotes): plain strings without nulls or characters to
    escape come back raw with ``needs_quotes`` so the quotes can go into the
    neighbouring literals (one Arrow pass less per string column).
    """
    if name in MONEY_FIELDS or name in ONE_DECIMAL_FIELDS:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = ~np.isfinite(values)
        text = u.fixed_decimal_array(np.where(missing, 0.0, values), 2 if name in MONEY_FIELDS else 1)
        return _with_nulls(text, missing), False
    if name in DATE_FIELDS:
        days, missing = _epoch_days(series)
        return _with_nulls(u.date_array(days, quoted=True), missing), False
    if pd.api.types.is_datetime64_any_dtype(series) or name.endswith("_time"):
        ms, missing = _epoch_ms(series)
        return _with_nulls(u.iso_ms_array(ms, quoted=True), missing), False
    arr = pa.array(series, from_pandas=True)
    if name in BOOL_FIELDS or pa.types.is_boolean(arr.type):
        return pc.fill_null(pc.if_else(arr.cast(pa.bool_()), "true", "false"), "null"), False
    if name in INT_FIELDS or pa.types.is_integer(arr.type):
        return pc.fill_null(pc.cast(arr.cast(pa.int64()), pa.string()), "null"), False
    if pa.types.is_floating(arr.type):
        return pc.fill_null(pc.cast(arr, pa.string()), "null"), False
    arr = arr.cast(pa.string())
    escapes = _has_escapes(arr)
    if arr.null_count == 0 and not escapes:
        return arr, True
    text = pc.binary_join_element_wise('"', arr, '"', "")
    if escapes:
        escape = pc.fill_null(pc.match_substring_regex(arr, _NEEDS_ESCAPE), False)
        rows = np.flatnonzero(escape.to_numpy(zero_copy_only=False))
        texts = text.to_pylist()
        for i in rows:
            texts[i] = orjson.dumps(arr[int(i)].as_py()).decode()
        text = pa.array(texts, type=pa.string())
    return pc.fill_null(text, "null"), False


def _as_matrix(arr: pa.Array) -> np.ndarray | None:
    """An (n, width) uint8 view of a string array whose values all have the same length, else None."""
    if arr.null_count or len(arr) == 0 or arr.buffers()[2] is None:
        return None
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset: arr.offset + len(arr) + 1]
    width = int(offsets[1] - offsets[0])
    if width == 0 or int(offsets[-1] - offsets[0]) != width * len(arr) or (np.diff(offsets) != width).any():
        return None
    return np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]].reshape(len(arr), width)


def render_records(frame: pd.DataFrame, fields: tuple[str, ...]) -> list[pa.Array]:
    """One compact JSON object + newline per row with exactly ``fields`` in order (Arrow chunks).

    Runs of fixed-width text (literals, ids, timestamps, codes) are laid side by
    side in one uint8 matrix, so the final Arrow concatenation only sees a few parts.
    """
    out: list[pa.Array] = []
    for lo in range(0, len(frame), _CHUNK):
        chunk = frame.iloc[lo: lo + _CHUNK]
        n = len(chunk)
        parts: list = []
        block: list = []

        def flush() -> None:
            if any(isinstance(b, np.ndarray) for b in block):
                mats = [b if isinstance(b, np.ndarray)
                        else np.broadcast_to(np.frombuffer(b.encode(), dtype=np.uint8), (n, len(b.encode())))
                        for b in block]
                parts.append(u.fixed_width(np.concatenate(mats, axis=1)))
            elif block:
                parts.append("".join(block))
            block.clear()

        literal = ""
        for i, name in enumerate(fields):
            literal += ('{"' if i == 0 else ',"') + name + '":'
            text, quote = _json_values(chunk[name], name)
            block.append(literal + ('"' if quote else ""))
            matrix = _as_matrix(text)
            if matrix is not None:
                block.append(matrix)
            else:
                flush()
                parts.append(text)
            literal = '"' if quote else ""
        block.append(literal + "}\n")
        flush()
        line = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "", memory_pool=_POOL)
        out.append(line.cast(pa.string(), memory_pool=_POOL))
    return out


def partition_days(frame: pd.DataFrame, feed: str, start: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """(epoch ms of the time field, landing day number) per row; customers never land before ``start``."""
    ms, missing = _epoch_ms(frame[FEEDS[feed].time_field])
    if missing.any():
        raise ValueError(f"{feed}: {int(missing.sum())} record(s) without {FEEDS[feed].time_field}")
    days = np.floor_divide(ms, u.MS_DAY)
    if feed == "customers":
        days = np.maximum(days, u.day_number(start))
    return ms, days


# --------------------------------------------------------------------------- malformed lines


def applicable_kinds(feed: str) -> tuple[str, ...]:
    spec = FEEDS[feed]
    ok = set(MALFORMED_KINDS)
    if feed not in AMOUNT_FIELD:
        ok -= {"negative_amount", "nonfinite_amount"}
    if "currency" not in spec.fields:
        ok.discard("bad_currency")
    return tuple(k for k in MALFORMED_KINDS if k in ok)


def _required(feed: str) -> list[str]:
    spec = FEEDS[feed]
    names = [spec.id_field, "customer_id", spec.time_field, AMOUNT_FIELD.get(feed)]
    return list(dict.fromkeys(n for n in names if n and n in spec.fields))


def _corrupt(line: str, kind: str, feed: str, rng: np.random.Generator, year: int) -> str:
    spec = FEEDS[feed]
    rec = orjson.loads(line)
    amount = AMOUNT_FIELD.get(feed)
    fields = _required(feed)
    if kind == "missing_field":
        del rec[fields[rng.integers(len(fields))]]
    elif kind == "null_field":
        rec[fields[rng.integers(len(fields))]] = None
    elif kind == "wrong_type":
        if amount and rng.random() < 0.6:
            rec[amount] = f"{rec[amount]}x"                                   # "12.5x"
        else:
            rec[spec.id_field] = int(re.sub(r"\D", "", str(rec[spec.id_field])) or 0)  # id as a number
    elif kind == "negative_amount":
        rec[amount] = -(abs(rec[amount]) or 1.0)
    elif kind == "nonfinite_amount":
        rec[amount] = _NONFINITE
    elif kind == "bad_currency":
        rec["currency"] = "XXX" if rng.random() < 0.5 else "usd$"
    elif kind == "bad_timestamp":
        rec[spec.time_field] = f"{year}-13-45T99:00"
    text = orjson.dumps(rec).decode()
    if kind == "nonfinite_amount":
        text = text.replace(f'"{_NONFINITE}"', ("NaN", "Infinity", "-Infinity")[rng.integers(3)])
    return text


def malform_day(day: DayLines, feed: str, rate: float, rng: np.random.Generator, year: int) -> DayLines:
    """Corrupt/add about ``rate`` of a day's lines (recorded on ``day``, which is returned).

    At least one malformed line when the day has >= 200 lines and ``rate > 0``.
    Field corruptions *replace* their record's line; ``duplicate`` (an exact
    copy of an earlier good line, placed 0-20 lines after it) and
    ``truncated`` (a cut copy, invalid JSON, right after the original) are
    *extra* lines. So landed lines = clean records + extras.
    """
    n = day.n_good
    if rate <= 0 or n == 0:
        return day
    k = int(rng.binomial(n, min(rate, 1.0)))
    if n >= 200:
        k = max(k, 1)
    k = min(k, n)
    if k == 0:
        return day
    kinds = applicable_kinds(feed)
    positions = np.sort(rng.choice(n, size=k, replace=False))
    chosen = rng.integers(0, len(kinds), k)
    inserts: list[tuple[int, int, str, str]] = []   # (after position, order, line, kind)
    replaced: list[tuple[int, str]] = []
    for j, (pos, ki) in enumerate(zip(positions.tolist(), chosen.tolist())):
        kind = kinds[ki]
        line = day.good_line(pos)
        if kind == "duplicate":
            inserts.append((min(n - 1, pos + int(rng.integers(0, 21))), j, line, kind))
        elif kind == "truncated":
            inserts.append((pos, j, line[: int(rng.integers(max(1, len(line) // 4), len(line) - 1))], kind))
        else:
            day.replaced[pos] = _corrupt(line, kind, feed, rng, year)
            replaced.append((pos, kind))
    inserts.sort()
    day.inserted = [(after, line) for after, _, line, _ in inserts]
    marks = [(after + 1 + t, kind) for t, (after, _, _, kind) in enumerate(inserts)]
    afters = np.array([after for after, *_ in inserts], dtype=np.int64)
    shifts = np.searchsorted(afters, [p for p, _ in replaced], side="left")
    marks.extend((p + int(s), kind) for (p, kind), s in zip(replaced, shifts))
    day.malformed = sorted(marks)
    return day


def _slice_chunks(chunks: list[pa.Array], lo: int, hi: int) -> list[pa.Array]:
    out, base = [], 0
    for chunk in chunks:
        a, b = max(lo - base, 0), min(hi - base, len(chunk))
        if a < b:
            out.append(chunk.slice(a, b - a))
        base += len(chunk)
    return out


def render_frame(frame: pd.DataFrame, feed: str, start: dt.date, seed: int, rate: float,
                 day_rates: dict[dt.date, float] | None = None) -> RenderedFeed:
    """Render a feed's clean records to per-day lines, then inject malformed lines (deterministic).

    ``day_rates`` overrides ``rate`` for some days (a bad feed day, to see the quality checks fire).
    """
    rendered = RenderedFeed(feed)
    if frame is None or len(frame) == 0:
        return rendered
    ms, days = partition_days(frame, feed, start)
    order = np.lexsort((ms, days))
    if not np.array_equal(order, np.arange(len(order))):
        frame, days = frame.iloc[order], days[order]
    chunks = render_records(frame, FEEDS[feed].fields)
    cuts = np.flatnonzero(np.diff(days)) + 1
    bounds = np.r_[0, cuts, len(days)]
    feed_no = FEED_NAMES.index(feed) if feed in FEED_NAMES else 99
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        day_no = int(days[lo])
        day = u.date_of(day_no)
        rng = np.random.default_rng([int(seed), 1000 + feed_no, day_no])
        day_rate = (day_rates or {}).get(day, rate)
        rendered.days[day] = malform_day(DayLines(_slice_chunks(chunks, lo, hi)), feed, day_rate, rng, day.year)
    return rendered
