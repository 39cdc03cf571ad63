"""Past-only fraud features per transaction, vectorised (numpy ``searchsorted`` over sorted keys).

Every feature of a transaction is computed from transactions that come strictly
before it in the order ``(event_time, transaction_id)`` — never from itself
(except the velocity count, which by definition includes the transaction that
completes the window) and never from the future. The same function serves the
batch path (a day plus the previous days' tail as ``history``) and the online
path (the engine's per-customer state as ``history``), so both produce the same
numbers. Money is summed in integer cents, so sums do not depend on how many
rows preceded them (no floating-point drift between batch and online).

Merchant (terminal) risk uses labels the way they arrive in real life: chargebacks
come days later, so for a transaction on day D each merchant window of ``w`` days
covers ``[D - label_delay - w, D - label_delay)`` (w = 1, 7, 30; the delay period
of the Fraud Detection Handbook's methodology, default 7 days) and a fraud counts
only if its label was reported before day D started. Training rows get their
merchant risk the same way, so a model never learns from a rate it could not
have known (no train/serve skew).

Only the six contract columns are needed (``transaction_id, customer_id,
merchant_id, amount, currency, event_time``); ``device_id`` is optional (absent
or null: every transaction counts as the same device). Every amount feature reads
the amount through :func:`reporting_amount` (the reporting-currency amount when the
frame carries it), one place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
CUSTOMER_WINDOWS = {"1h": 3_600, "1d": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}
MERCHANT_WINDOW_DAYS = (1, 7, 30)
REQUIRED_COLUMNS = ("transaction_id", "customer_id", "merchant_id", "amount", "event_time")
_INT64_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True)
class FeatureConfig:
    """Windows of the past-only features (seconds for customers; merchants: MERCHANT_WINDOW_DAYS).

    ``label_delay_days``: how long fraud labels take to be known when their real report
    time is not (the backtest's case), and how far merchant windows stay behind the day.
    """

    velocity_window_s: float = 10.0
    label_delay_days: int = 7
    night_start_hour: int = 0
    night_end_hour: int = 6

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> FeatureConfig:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (values or {}).items() if k in known})

    @property
    def customer_horizon_us(self) -> int:
        """How far back any customer feature looks (state older than this is never needed)."""
        return max(max(CUSTOMER_WINDOWS.values()), self.velocity_window_s) * US_PER_SECOND

    @property
    def merchant_horizon_days(self) -> int:
        return self.label_delay_days + max(MERCHANT_WINDOW_DAYS)


FEATURE_COLUMNS: tuple[str, ...] = (
    "amount",
    *(f"customer_count_{w}" for w in CUSTOMER_WINDOWS),
    *(f"customer_sum_amount_{w}" for w in CUSTOMER_WINDOWS),
    *(f"customer_mean_amount_{w}" for w in CUSTOMER_WINDOWS),
    *(f"amount_ratio_{w}" for w in CUSTOMER_WINDOWS),
    "seconds_since_previous",
    "velocity_count",
    "device_count_30d",
    *(f"merchant_count_{w}d" for w in MERCHANT_WINDOW_DAYS),
    *(f"merchant_fraud_rate_{w}d" for w in MERCHANT_WINDOW_DAYS),
    "is_night",
    "is_weekend",
)
"""The model's inputs, in order (the manifest of every trained model records them)."""


def to_epoch_us(values: pd.Series) -> np.ndarray:
    """Event times (naive UTC, aware, or ISO text) as int64 microseconds since the epoch; NaT → min int."""
    times = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601") if not pd.api.types.is_datetime64_any_dtype(values) else values
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.dt.as_unit("us").to_numpy().astype("int64")


def reporting_amount(frame) -> np.ndarray:
    """The amount features use: ``amount_reporting`` when present (missing rate → 0), else ``amount``."""
    if "amount_reporting" in frame:
        column = frame["amount_reporting"]
        values = column.to_numpy(dtype="float64", na_value=np.nan) if isinstance(column, pd.Series) \
            else np.asarray(column, dtype="float64")
        return np.nan_to_num(values, nan=0.0)
    column = frame["amount"]
    return column.to_numpy(dtype="float64") if isinstance(column, pd.Series) else np.asarray(column, dtype="float64")


def feature_matrix(features, names) -> np.ndarray:
    """The model's 2-D float64 input: ``names`` in order, ``amount`` read in the reporting currency."""
    columns = []
    for name in names:
        if name == "amount":
            columns.append(reporting_amount(features))
        else:
            column = features[name]
            columns.append(column.to_numpy(dtype="float64") if isinstance(column, pd.Series)
                           else np.asarray(column, dtype="float64"))
    return np.column_stack(columns) if columns else np.zeros((0, 0))


def prepare_transactions(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a transaction frame; return (scorable rows, rejected rows with a ``reject_reason``).

    Scorable rows carry ``event_us`` (int64) and ``amount_cents`` (int64, from
    the reporting-currency amount when present: what every amount window adds up) next to the original columns. A row without an id, customer, merchant, a finite amount or a
    parseable event time cannot be featurised: it is returned, not raised.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise KeyError(f"transactions lack required column(s): {', '.join(missing)}")
    out = frame.copy()
    for column in ("transaction_id", "customer_id", "merchant_id"):
        out[column] = out[column].astype("string")
    if "currency" not in out.columns:
        out["currency"] = "USD"
    if "device_id" not in out.columns:
        out["device_id"] = pd.NA
    out["device_id"] = out["device_id"].astype("string").fillna("")
    out["amount"] = pd.to_numeric(out["amount"], errors="coerce").astype("float64")
    event_us = to_epoch_us(out["event_time"])
    nat = event_us == np.iinfo(np.int64).min
    reasons = np.full(len(out), None, dtype=object)
    for column in ("transaction_id", "customer_id", "merchant_id"):
        reasons[(reasons == None) & out[column].isna().to_numpy()] = f"missing {column}"  # noqa: E711
    amount = out["amount"].to_numpy()
    reasons[(reasons == None) & ~np.isfinite(amount)] = "amount is not a number"  # noqa: E711
    reasons[(reasons == None) & nat] = "event_time is not a timestamp"  # noqa: E711
    bad = reasons != None  # noqa: E711
    out["event_us"] = event_us
    out["event_time"] = pd.Series(event_us.astype("datetime64[us]"), index=out.index)  # min int64 is NaT
    # Windows add up money in the reporting currency (lib.money.fx) when the frame carries it; a row
    # whose rate is missing adds nothing (it is reviewed with FX_RATE_MISSING).
    money = out["amount_reporting"].to_numpy(dtype="float64", na_value=np.nan) if "amount_reporting" in out.columns \
        else amount
    out["amount_cents"] = np.where(bad, 0, np.round(np.nan_to_num(money) * 100)).astype("int64")
    rejected = out.loc[bad].assign(reject_reason=reasons[bad])
    return out.loc[~bad].reset_index(drop=True), rejected.reset_index(drop=True)


def customer_window_features(
    customer_ids: np.ndarray, event_us: np.ndarray, transaction_ids: np.ndarray, amount_cents: np.ndarray,
    config: FeatureConfig,
) -> dict[str, np.ndarray]:
    """Per-row customer features over all given rows (the caller keeps only its target rows)."""
    n = len(event_us)
    codes, _ = pd.factorize(customer_ids, sort=False)
    order = np.lexsort((transaction_ids, event_us, codes))
    codes_s = codes[order].astype("int64")
    times_s = event_us[order]
    cents_s = amount_cents[order]
    out = {name: np.empty(n, dtype="float64") for name in _CUSTOMER_OUTPUTS}
    if n == 0:
        return out
    horizon = int(config.customer_horizon_us)
    t_min, t_max = int(times_s.min()), int(times_s.max())
    stride = t_max - t_min + horizon + 1
    codes_per_chunk = max(1, (_INT64_MAX // 2) // stride - 1)
    # Rows are sorted by customer code, so a run of codes is a contiguous slice.
    boundaries = np.searchsorted(codes_s, np.arange(0, codes_s[-1] + codes_per_chunk + 1, codes_per_chunk))
    result = {name: np.empty(n, dtype="float64") for name in _CUSTOMER_OUTPUTS}
    for lo, hi in zip(boundaries[:-1], boundaries[1:]):
        if hi > lo:
            _customer_chunk(codes_s[lo:hi], times_s[lo:hi], cents_s[lo:hi], t_min, stride, config,
                            {k: v[lo:hi] for k, v in result.items()})
    for name, values in result.items():
        out[name][order] = values
    return out


_CUSTOMER_OUTPUTS = (
    *(f"customer_count_{w}" for w in CUSTOMER_WINDOWS),
    *(f"customer_sum_cents_{w}" for w in CUSTOMER_WINDOWS),
    "seconds_since_previous",
    "velocity_count",
)


def _customer_chunk(codes, times, cents, t_min, stride, config, out) -> None:
    local = codes - codes[0]
    key = local * stride + (times - t_min)
    pos = np.arange(len(key))
    prefix = np.concatenate(([0], np.cumsum(cents)))
    for label, seconds in CUSTOMER_WINDOWS.items():
        start = np.searchsorted(key, key - seconds * US_PER_SECOND, side="left")
        out[f"customer_count_{label}"][:] = pos - start
        out[f"customer_sum_cents_{label}"][:] = prefix[pos] - prefix[start]
    velocity_us = int(round(config.velocity_window_s * US_PER_SECOND))
    out["velocity_count"][:] = pos - np.searchsorted(key, key - velocity_us, side="right") + 1
    first_of_customer = np.concatenate(([True], local[1:] != local[:-1]))
    gap_us = np.empty(len(key), dtype="int64")
    gap_us[0] = 0
    gap_us[1:] = times[1:] - times[:-1]
    horizon = int(config.customer_horizon_us)
    # Capped at the longest window: the online state keeps exactly that much history.
    gap_us = np.where(first_of_customer, horizon, np.minimum(gap_us, horizon))
    out["seconds_since_previous"][:] = gap_us / US_PER_SECOND


def merchant_daily_counts(merchant_ids: np.ndarray, event_us: np.ndarray) -> pd.DataFrame:
    """(merchant_id, day, tx_count): the merchant side of the delayed window."""
    frame = pd.DataFrame({"merchant_id": merchant_ids, "day": event_us // US_PER_DAY})
    return frame.groupby(["merchant_id", "day"], sort=False).size().rename("tx_count").reset_index()


def fraud_events(labels: pd.DataFrame | None, transactions: pd.DataFrame | None = None) -> pd.DataFrame:
    """(merchant_id, tx_day, reported_day, transaction_id) for every confirmed fraud label (one per transaction).

    ``labels`` needs ``transaction_id, reported_time`` (and ``is_fraud`` if present:
    only true labels count). ``merchant_id`` and ``event_time`` come from the label
    itself when present, else from ``transactions`` (joined on transaction_id).
    """
    empty = pd.DataFrame({"merchant_id": pd.Series(dtype="string"), "tx_day": pd.Series(dtype="int64"),
                          "reported_day": pd.Series(dtype="int64"), "transaction_id": pd.Series(dtype="string")})
    if labels is None or len(labels) == 0:
        return empty
    frame = labels
    if "is_fraud" in frame.columns:
        frame = frame[frame["is_fraud"].fillna(False).astype(bool)]
    if not {"merchant_id", "event_time"} <= set(frame.columns):
        if transactions is None:
            raise KeyError("labels need merchant_id and event_time, or the transactions to join them from")
        lookup = transactions[["transaction_id", "merchant_id", "event_time"]].drop_duplicates("transaction_id")
        lookup = lookup.astype({"transaction_id": "string"})
        frame = frame.drop(columns=[c for c in ("merchant_id", "event_time") if c in frame.columns])
        frame = frame.astype({"transaction_id": "string"}).merge(lookup, on="transaction_id", how="inner")
    frame = frame.dropna(subset=["merchant_id", "event_time", "reported_time"])
    if frame.empty:
        return empty
    return pd.DataFrame({
        "merchant_id": frame["merchant_id"].astype("string").to_numpy(),
        "tx_day": to_epoch_us(frame["event_time"]) // US_PER_DAY,
        "reported_day": to_epoch_us(frame["reported_time"]) // US_PER_DAY,
        "transaction_id": frame["transaction_id"].astype("string").to_numpy(),
    }).sort_values("reported_day", kind="mergesort").drop_duplicates("transaction_id")


def merchant_windows(day: int, delay_days: int) -> list[tuple[int, int, int]]:
    """(window days, lo, hi) per merchant window of a transaction on ``day``: days in [lo, hi)."""
    hi = day - delay_days
    return [(w, hi - w, hi) for w in MERCHANT_WINDOW_DAYS]


MERCHANT_UNKNOWN = -1.0
"""A merchant window that reaches back before the history starts: its count and rate are not
known (a truncated window's rate is biased), and the model sees this value, not a wrong rate."""


def merchant_features(
    merchant_ids: np.ndarray, days: np.ndarray, daily_counts: pd.DataFrame, frauds: pd.DataFrame,
    config: FeatureConfig, horizon_day: int | None = None, history_start_day: int | None = None,
) -> dict[str, np.ndarray]:
    """Delayed merchant transaction count and fraud rate per window, for each (merchant, day).

    A fraud counts in the window of day D when its transaction day is in the window and its
    label was reported before D (``reported_day < D``): only what was known that morning.
    ``horizon_day``: the first day the history holds no labelled transactions for (a
    backtest's test file after a gap); windows end there at the latest.
    ``history_start_day``: the first day the history holds (None: unbounded, continuous data);
    a window that starts before it is :data:`MERCHANT_UNKNOWN` — without this, a terminal whose
    fraud began before the file does looks 100 % fraudulent over a window that is mostly missing,
    a pattern no later, fully observed window shows (the train/test skew behind issue 16's
    out-of-sample FPR: README, fraud section).
    """
    queries = pd.DataFrame({"merchant_id": merchant_ids, "day": days})
    unique = queries.drop_duplicates().reset_index(drop=True)

    def window_end(day: pd.Series) -> pd.Series:
        end = day - config.label_delay_days
        return end if horizon_day is None else np.minimum(end, horizon_day)

    hi = window_end(unique["day"])
    known = unique.merge(frauds, on="merchant_id", how="inner") if len(frauds) else None
    if known is not None:
        known = known[known["reported_day"] < known["day"]]
    table = daily_counts.rename(columns={"day": "at"})
    for w in MERCHANT_WINDOW_DAYS:
        unique["lo"], unique["hi"] = hi - w, hi
        counts = _window_sums(unique, table, "tx_count")
        if known is not None and len(known):
            k_hi = window_end(known["day"])
            inside = known[(known["tx_day"] >= k_hi - w) & (known["tx_day"] < k_hi)]
            fraud_count = inside.groupby(["merchant_id", "day"]).size().rename("fraud_count")
            fraud_count = unique.join(fraud_count, on=["merchant_id", "day"])["fraud_count"].fillna(0).to_numpy()
        else:
            fraud_count = np.zeros(len(unique))
        rate = np.divide(fraud_count, counts, out=np.zeros(len(unique)), where=counts > 0)
        if history_start_day is not None:
            truncated = (unique["lo"] < history_start_day).to_numpy()
            counts = np.where(truncated, MERCHANT_UNKNOWN, counts)
            rate = np.where(truncated, MERCHANT_UNKNOWN, rate)
        unique[f"merchant_count_{w}d"] = counts
        unique[f"merchant_fraud_rate_{w}d"] = rate
    joined = queries.merge(unique, on=["merchant_id", "day"], how="left")
    return {name: joined[name].to_numpy(dtype="float64") for name in MERCHANT_FEATURES}


MERCHANT_FEATURES = (*(f"merchant_count_{w}d" for w in MERCHANT_WINDOW_DAYS),
                     *(f"merchant_fraud_rate_{w}d" for w in MERCHANT_WINDOW_DAYS))


def _window_sums(queries: pd.DataFrame, table: pd.DataFrame, value: str) -> np.ndarray:
    """Sum ``table[value]`` over rows of the same merchant with lo <= at < hi (prefix sums + searchsorted)."""
    if table.empty or queries.empty:
        return np.zeros(len(queries))
    merchants = pd.Index(pd.unique(pd.concat([table["merchant_id"], queries["merchant_id"]], ignore_index=True)))
    t_code = merchants.get_indexer(table["merchant_id"]).astype("int64")
    q_code = merchants.get_indexer(queries["merchant_id"]).astype("int64")
    at = table["at"].to_numpy(dtype="int64")
    base = min(int(at.min()), int(queries["lo"].min())) - 1
    span = max(int(at.max()), int(queries["hi"].max())) - base + 2
    t_key = t_code * span + (at - base)
    order = np.argsort(t_key, kind="stable")
    t_key = t_key[order]
    prefix = np.concatenate(([0], np.cumsum(table[value].to_numpy(dtype="int64")[order])))
    lo_key = q_code * span + (queries["lo"].to_numpy(dtype="int64") - base)
    hi_key = q_code * span + (queries["hi"].to_numpy(dtype="int64") - base)
    return (prefix[np.searchsorted(t_key, hi_key, side="left")]
            - prefix[np.searchsorted(t_key, lo_key, side="left")]).astype("float64")


def compute_features(
    transactions: pd.DataFrame,
    history: pd.DataFrame | None = None,
    labels: pd.DataFrame | None = None,
    config: FeatureConfig | None = None,
    *,
    prepared: bool = False,
    merchant_counts: pd.DataFrame | None = None,
    frauds: pd.DataFrame | None = None,
    labels_until=None,
    history_start=None,
) -> pd.DataFrame:
    """Features of ``transactions`` (one row each, input order), looking back into ``history``.

    ``history_start`` (a time, optional): where the data the features may see begins (a
    backtest's train file). Merchant windows that reach back before its day are
    :data:`MERCHANT_UNKNOWN` rather than a rate over a truncated window (continuous data: None).

    ``labels_until`` (a time, optional): the history and its labels stop there — a backtest
    whose test file starts after a gap the files do not hold. Merchant windows then end at
    the last whole day before it instead of in the empty gap (continuous data: leave None).

    ``history`` holds earlier transactions (e.g. the previous days' tail, or the
    whole table — rows of ``transactions`` found in it are ignored, later rows
    never count). ``labels`` are fraud labels (see :func:`fraud_events`). The
    online engine passes its own state as ``merchant_counts`` / ``frauds``.
    """
    config = config or FeatureConfig()
    target = transactions if prepared else prepare_transactions(transactions)[0]
    if history is not None and len(history):
        past = history if prepared else prepare_transactions(history)[0]
        if len(target):
            lower = int(target["event_us"].min()) - max(
                int(config.customer_horizon_us), (config.merchant_horizon_days + 1) * US_PER_DAY)
            keep = (past["event_us"] >= lower) & (past["event_us"] <= int(target["event_us"].max()))
            keep &= ~past["transaction_id"].isin(target["transaction_id"])
            past = past.loc[keep]
    else:
        past = target.iloc[:0]
    columns = ["transaction_id", "customer_id", "merchant_id", "device_id", "event_us", "amount_cents"]
    both = pd.concat([past[columns], target[columns]], ignore_index=True)
    n_past = len(past)
    customer = customer_window_features(
        both["customer_id"].to_numpy(dtype=object), both["event_us"].to_numpy(),
        both["transaction_id"].to_numpy(dtype=object), both["amount_cents"].to_numpy(), config,
    )
    out = target[[c for c in ("transaction_id", "customer_id", "merchant_id", "amount", "currency", "event_time",
                              "partition_date", "amount_reporting", "fx_rate_missing")
                  if c in target.columns]].reset_index(drop=True).copy()
    # Prior transactions of this customer on this device: a new device scores 0.
    pair = (both["customer_id"] + "\x1f" + both["device_id"]).to_numpy(dtype=object)
    device = customer_window_features(pair, both["event_us"].to_numpy(),
                                      both["transaction_id"].to_numpy(dtype=object), both["amount_cents"].to_numpy(),
                                      config)
    if merchant_counts is None:
        merchant_counts = merchant_daily_counts(both["merchant_id"].to_numpy(dtype=object), both["event_us"].to_numpy())
    if frauds is None:
        frauds = fraud_events(labels, pd.concat([past, target], ignore_index=True) if labels is not None else None)
    event_us = target["event_us"].to_numpy()
    horizon_day = None
    if labels_until is not None:
        horizon_day = int(to_epoch_us(pd.Series([pd.Timestamp(labels_until)]))[0] // US_PER_DAY)
    start_day = None
    if history_start is not None:
        start_day = int(to_epoch_us(pd.Series([pd.Timestamp(history_start)]))[0] // US_PER_DAY)
    merchant = merchant_features(target["merchant_id"].to_numpy(dtype=object), event_us // US_PER_DAY,
                                 merchant_counts, frauds, config, horizon_day, start_day)
    derived = derive_features(
        reporting_amount(target), target["amount_cents"].to_numpy(), event_us,
        counts={w: customer[f"customer_count_{w}"][n_past:] for w in CUSTOMER_WINDOWS},
        sums_cents={w: customer[f"customer_sum_cents_{w}"][n_past:] for w in CUSTOMER_WINDOWS},
        seconds_since_previous=customer["seconds_since_previous"][n_past:],
        velocity_count=customer["velocity_count"][n_past:], device_count=device["customer_count_30d"][n_past:],
        merchant=merchant, config=config,
    )
    for name, values in derived.items():
        out[name] = values
    return out


def derive_features(money: np.ndarray, amount_cents: np.ndarray, event_us: np.ndarray, *, counts: dict, sums_cents: dict,
                    seconds_since_previous: np.ndarray, velocity_count: np.ndarray, device_count: np.ndarray,
                    merchant: dict, config: FeatureConfig) -> dict[str, np.ndarray]:
    """Every model input but ``amount`` from the window aggregates — the one place the batch,
    training, backtest and online paths turn counts and sums into features (so they cannot drift
    apart). ``money``: the reporting-currency amount (:func:`reporting_amount`); ``amount`` itself is
    the caller's column, read by :func:`feature_matrix`."""
    n = len(amount_cents)
    out: dict[str, np.ndarray] = {}
    for label in CUSTOMER_WINDOWS:
        count, total = np.asarray(counts[label], dtype="float64"), np.asarray(sums_cents[label], dtype="float64")
        mean = np.divide(total, count * 100.0, out=np.zeros(n), where=count > 0)
        out[f"customer_count_{label}"] = count
        out[f"customer_sum_amount_{label}"] = total / 100.0
        out[f"customer_mean_amount_{label}"] = mean
        out[f"amount_ratio_{label}"] = np.divide(money, mean, out=np.ones(n), where=mean > 0)
    out["seconds_since_previous"] = np.asarray(seconds_since_previous, dtype="float64")
    out["velocity_count"] = np.asarray(velocity_count).astype("int64")
    out["device_count_30d"] = np.asarray(device_count, dtype="float64")
    for name in MERCHANT_FEATURES:
        out[name] = merchant[name]
    day = event_us // US_PER_DAY
    hour = (event_us // (3_600 * US_PER_SECOND)) % 24
    out["is_night"] = ((hour >= config.night_start_hour) & (hour < config.night_end_hour)).astype("int8")
    out["is_weekend"] = (((day + 3) % 7) >= 5).astype("int8")  # 1970-01-01 was a Thursday
    return out
