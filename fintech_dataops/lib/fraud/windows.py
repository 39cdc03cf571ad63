"""Per-customer sliding-window state of the online engine, queried in O(log n) per event.

Each customer keeps its remembered transactions sorted by (event time, transaction
id) in parallel lists, with a running sum of cents, so a window's count and sum
for a new event are two binary searches and a subtraction, however long the
customer's history is. :func:`past_features` gives, for every event of a
micro-batch, what the customer's *past* rows contribute to the features of
:func:`~fintech_dataops.lib.fraud.features.customer_window_features`; the engine
adds what the batch's own earlier rows contribute (computed vectorised on the
batch alone). Counts and sums are additive over disjoint row sets and the
previous row is the later of the two candidates, so the result is exactly the
batch path's, which ranks rows by (customer, event time, transaction id).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Iterable

import numpy as np

from fintech_dataops.lib.fraud.features import CUSTOMER_WINDOWS, US_PER_SECOND, FeatureConfig

LONGEST_WINDOW_LABEL = max(CUSTOMER_WINDOWS, key=CUSTOMER_WINDOWS.get)


class CustomerWindow:
    """One customer's remembered transactions, sorted by (event_us, transaction_id)."""

    __slots__ = ("times", "txs", "cum", "devices", "mixed")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.txs: list[str] = []
        self.cum: list[int] = [0]  # cum[i] = cents of the rows before i (offset-free: only differences count)
        self.devices: list[str] = []
        # False: every row has the same device (most customers: a same-device count is then a
        # subtraction, not a pass over the slice). Adding a second device sets it; dropping rows
        # keeps it (conservative); only a rebuild (set_rows, after a late insert) recomputes it.
        self.mixed = False

    def set_rows(self, times: list[int], txs: list[str], cum: list[int], devices: list[str]) -> None:
        self.times, self.txs, self.cum, self.devices = times, txs, cum, devices
        self.mixed = len(set(devices)) > 1

    def __len__(self) -> int:
        return len(self.times)

    def __bool__(self) -> bool:
        return bool(self.times)

    @property
    def newest_us(self) -> int:
        return self.times[-1]

    def entries(self) -> list[tuple[int, str, int, str]]:
        """(event_us, transaction_id, amount_cents, device_id) per row, in order."""
        cum = self.cum
        return [(t, x, cum[i + 1] - cum[i], d) for i, (t, x, d) in enumerate(zip(self.times, self.txs, self.devices))]

    def add(self, event_us: int, transaction_id: str, cents: int, device: str) -> None:
        times, txs = self.times, self.txs
        if times and not self.mixed and device != self.devices[0]:
            self.mixed = True
        if not times or event_us > times[-1] or (event_us == times[-1] and transaction_id >= txs[-1]):
            times.append(event_us)
            txs.append(transaction_id)
            self.devices.append(device)
            self.cum.append(self.cum[-1] + cents)
            return
        # A late event: insert it in place and rebuild the running sum (rare).
        rows = self.entries()
        insort(rows, (event_us, transaction_id, cents, device), key=lambda e: (e[0], e[1]))
        self._load(rows)

    def _load(self, rows: list[tuple[int, str, int, str]]) -> None:
        cum = [0]
        for r in rows:
            cum.append(cum[-1] + r[2])
        self.set_rows([r[0] for r in rows], [r[1] for r in rows], cum, [r[3] for r in rows])

    def drop_before(self, oldest_us: int, ids: RememberedIds | None = None) -> int:
        """Forget rows older than ``oldest_us`` (they no longer fall in any window); returns how many.

        ``ids``: the engine's index of remembered transaction ids, told which ones left."""
        k = bisect_left(self.times, oldest_us)
        if k:
            if ids is not None:
                ids.forget(self.txs[:k])
            del self.times[:k], self.txs[:k], self.devices[:k], self.cum[:k]
        return k

    def rank(self, event_us: int, transaction_id: str) -> int:
        """How many rows sort before (event_us, transaction_id)."""
        times, txs = self.times, self.txs
        i = bisect_left(times, event_us)
        n = len(times)
        while i < n and times[i] == event_us and txs[i] < transaction_id:
            i += 1
        return i


def past_features(state: dict[str, CustomerWindow], customers: list[str], event_us: list[int],
                  transaction_ids: list[str], devices: list[str], config: FeatureConfig) -> dict[str, np.ndarray]:
    """What each event's customer's remembered rows contribute to its customer features.

    Returns per event: ``customer_count_<w>`` / ``customer_sum_cents_<w>`` over the rows
    before it in [t - w, t], ``velocity_past`` (rows in (t - velocity window, t]),
    ``gap_us`` to the previous row (the horizon when none, capped at it) and
    ``device_count_past`` (the longest window, same device).
    """
    n = len(event_us)
    windows = [(label, int(seconds * US_PER_SECOND)) for label, seconds in CUSTOMER_WINDOWS.items()]
    longest = int(CUSTOMER_WINDOWS[LONGEST_WINDOW_LABEL] * US_PER_SECOND)
    velocity_us = int(round(config.velocity_window_s * US_PER_SECOND))
    horizon = int(config.customer_horizon_us)
    counts = {label: [0] * n for label, _ in windows}
    sums = {label: [0] * n for label, _ in windows}
    velocity, gap, device_count = [0] * n, [horizon] * n, [0] * n
    for i, (customer, t, tx, device) in enumerate(zip(customers, event_us, transaction_ids, devices)):
        window = state.get(customer)
        if window is None:
            continue
        times, cum = window.times, window.cum
        r = window.rank(t, tx)
        if r == 0:
            continue
        for label, width in windows:
            lo = bisect_left(times, t - width, 0, r)
            counts[label][i] = r - lo
            sums[label][i] = cum[r] - cum[lo]
        velocity[i] = r - bisect_right(times, t - velocity_us, 0, r)
        gap[i] = min(t - times[r - 1], horizon)
        lo = bisect_left(times, t - longest, 0, r)
        if window.mixed:
            device_count[i] = window.devices[lo:r].count(device)
        elif r > lo and window.devices[0] == device:  # one device in every row
            device_count[i] = r - lo
    out = {f"customer_count_{label}": np.asarray(values, dtype="float64") for label, values in counts.items()}
    out.update({f"customer_sum_cents_{label}": np.asarray(values, dtype="float64") for label, values in sums.items()})
    out["velocity_past"] = np.asarray(velocity, dtype="int64")
    out["gap_us"] = np.asarray(gap, dtype="int64")
    out["device_count_past"] = np.asarray(device_count, dtype="float64")
    return out


class RememberedIds:
    """Every transaction id the windows remember, with how many copies (a resent id is remembered twice).

    "Is any id of this micro-batch already remembered?" is then one dict lookup per event instead
    of a scan of the customer's remembered ids (which grew with the customer's history: 5 µs an
    event on the warm-started service, and more for the most active customers). About 30 bytes
    an id; the windows add and drop ids through :meth:`add` and :meth:`forget`.
    """

    __slots__ = ("_copies",)

    def __init__(self) -> None:
        self._copies: Counter[str] = Counter()  # its update() counts in C

    def __len__(self) -> int:
        return len(self._copies)

    def __contains__(self, transaction_id: str) -> bool:
        return transaction_id in self._copies

    def add(self, transaction_ids: Iterable[str]) -> None:
        self._copies.update(transaction_ids)

    def forget(self, transaction_ids: Iterable[str]) -> None:
        copies = self._copies
        for tx in transaction_ids:
            left = copies.get(tx, 0) - 1
            if left > 0:
                copies[tx] = left
            else:
                copies.pop(tx, None)

    def holds_any(self, transaction_ids: Iterable[str]) -> bool:
        """Whether a transaction id is already remembered (a resent event)."""
        return not self._copies.keys().isdisjoint(transaction_ids)
