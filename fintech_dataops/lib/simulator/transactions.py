"""Merchants, card transactions, fraud scenarios and chargeback labels (internal part of the simulator).

Legit spending: per-customer lognormal amounts (scaled by income and merchant
category), a diurnal clock, channels per category, one or two devices per
customer; amounts above 800 are rare (about 0.2 % of legit transactions).
Injected on top: a few legit bursts (4 transactions within 10 s) and four
fraud scenarios sized to ~0.45 % of all transactions, see ``SCENARIOS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fintech_dataops.lib.simulator import util as u
from fintech_dataops.lib.simulator.population import Population

SCENARIOS = ("none", "card_testing", "compromised_merchant", "account_takeover", "amount_jump", "legit_burst")
NONE, CARD_TESTING, COMPROMISED, TAKEOVER, AMOUNT_JUMP, LEGIT_BURST = range(6)
CATEGORIES = ("grocery", "restaurant", "fuel", "pharmacy", "electronics", "online_retail", "travel",
              "entertainment", "digital_goods", "clothing", "atm")
_CAT_P = (0.2, 0.2, 0.08, 0.05, 0.05, 0.12, 0.04, 0.08, 0.05, 0.08, 0.05)
_CAT_MULT = np.array((1.4, 1.0, 1.6, 0.8, 3.0, 1.5, 4.0, 1.0, 0.4, 2.0, 3.0))
ATM = CATEGORIES.index("atm")
_PROBE_CATS = (CATEGORIES.index("digital_goods"), CATEGORIES.index("online_retail"))
_HIGH_CATS = (CATEGORIES.index("electronics"), CATEGORIES.index("online_retail"), CATEGORIES.index("travel"))
CHANNELS = ("card_present", "ecommerce", "contactless", "atm")
ECOMMERCE, CONTACTLESS = 1, 2
_STORE = (0.5, 0.1, 0.4, 0.0)
_CHANNEL_P = np.array([_STORE, _STORE, _STORE, _STORE, (0.5, 0.3, 0.2, 0.0), (0, 1, 0, 0), (0.3, 0.7, 0, 0),
                       _STORE, (0, 1, 0, 0), _STORE, (0, 0, 0, 1)], dtype=float)
_CHANNEL_CDF = np.cumsum(_CHANNEL_P, axis=1)
FRAUD_SHARE = 0.0045
LEGIT_HIGH_VALUE_RATE = 0.002
_MERCHANT_COUNTRY_P = (0.85, 0.05, 0.03, 0.03, 0.02, 0.01, 0.01)


@dataclass
class Merchants:
    n: int
    cat: np.ndarray
    country: np.ndarray
    weight: np.ndarray
    _samplers: dict = field(default_factory=dict)

    def _sampler(self, country: int, exclude_atm: bool) -> tuple[np.ndarray, np.ndarray]:
        key = (country, exclude_atm)
        if key not in self._samplers:
            ok = np.ones(self.n, dtype=bool) if country < 0 else self.country == country
            if exclude_atm:
                ok &= self.cat != ATM
            if not ok.any():
                return self._sampler(-1, exclude_atm)
            idx = np.flatnonzero(ok)
            cdf = np.cumsum(self.weight[idx])
            self._samplers[key] = (idx, cdf / cdf[-1])
        return self._samplers[key]

    def sample(self, rng: np.random.Generator, country: np.ndarray, exclude_atm: bool = False) -> np.ndarray:
        """Popularity-weighted merchants in the given country codes (-1: anywhere)."""
        out = np.empty(len(country), dtype=np.int64)
        for c in np.unique(country):
            rows = np.flatnonzero(country == c)
            idx, cdf = self._sampler(int(c), exclude_atm)
            out[rows] = idx[np.minimum(np.searchsorted(cdf, rng.random(len(rows)), side="right"), len(idx) - 1)]
        return out

    def of_categories(self, cats: tuple[int, ...]) -> np.ndarray:
        return np.flatnonzero(np.isin(self.cat, cats))


def make_merchants(rng: np.random.Generator, customers: int) -> Merchants:
    n = max(200, min(50_000, customers // 20))
    cat = u.pick(rng, _CAT_P, n)
    cat[: len(CATEGORIES)] = np.arange(len(CATEGORIES))
    country = u.pick(rng, _MERCHANT_COUNTRY_P, n)
    country[len(CATEGORIES): len(CATEGORIES) + len(u.COUNTRIES)] = np.arange(len(u.COUNTRIES))
    return Merchants(n=n, cat=cat, country=country, weight=rng.lognormal(0.0, 1.1, n))


def _channel(rng: np.random.Generator, cat: np.ndarray) -> np.ndarray:
    return (rng.random(len(cat))[:, None] > _CHANNEL_CDF[cat][:, :-1]).sum(axis=1)


def _rows(cust, merch, amount, ms, chan, dev, scen) -> dict[str, np.ndarray]:
    n = len(cust)
    return {
        "cust": np.asarray(cust, dtype=np.int64), "merch": np.asarray(merch, dtype=np.int64),
        "amount": u.money(amount), "ms": np.asarray(ms, dtype=np.int64),
        "chan": np.broadcast_to(np.asarray(chan, dtype=np.int64), (n,)).copy(),
        "dev": np.broadcast_to(np.asarray(dev, dtype=np.int64), (n,)).copy(),
        "scen": np.full(n, scen, dtype=np.int64),
    }


@dataclass
class TransactionResult:
    transactions: pd.DataFrame
    truth: pd.DataFrame
    labels: pd.DataFrame
    takeover_events: dict[str, np.ndarray]
    fraud_victim: np.ndarray
    device_width: int


class _Builder:
    def __init__(self, seed: int, pop: Population, cfg, merchants: Merchants):
        self.seed, self.pop, self.cfg, self.m = seed, pop, cfg, merchants
        self.window = pop.end_ms - pop.start_ms
        self.next_device = 2 * pop.n + 1

    def rng(self, component: int) -> np.random.Generator:
        return u.rng_for(self.seed, 100 + component)

    def new_devices(self, k: int) -> np.ndarray:
        out = np.arange(self.next_device, self.next_device + k)
        self.next_device += k
        return out

    def t0(self, rng: np.random.Generator, k: int, span_ms: int) -> np.ndarray:
        room = max(self.window - span_ms, 1)
        return self.pop.start_ms + (rng.random(k) * room).astype(np.int64)

    def legit(self, mu: np.ndarray, sigma: np.ndarray) -> dict[str, np.ndarray]:
        rng, pop, cfg = self.rng(0), self.pop, self.cfg
        first_day = (pop.active_ms - pop.start_ms) // u.MS_DAY
        n_days = cfg.days - first_day
        rate = cfg.transactions_per_customer_day * rng.gamma(2.0, 0.5, pop.n) * ~pop.thin
        cust, _ = u.expand(rng.poisson(rate * n_days))
        t = len(cust)
        day = first_day[cust] + (rng.random(t) * n_days[cust]).astype(np.int64)
        ms = pop.start_ms + day * u.MS_DAY + u.time_of_day(rng, t)
        merch = self.m.sample(rng, np.where(rng.random(t) < 0.03, -1, pop.country[cust]))
        cat = self.m.cat[merch]
        amount = np.exp(mu[cust] + sigma[cust] * rng.standard_normal(t)) * _CAT_MULT[cat]
        amount = np.where(amount > 800, 800 * np.exp(-rng.exponential(0.6, t)), amount)
        amount = np.where(cat == ATM, np.maximum(20, np.round(amount / 20) * 20), amount)
        high = rng.random(t) < LEGIT_HIGH_VALUE_RATE
        amount = np.where(high, np.exp(rng.uniform(np.log(800.5), np.log(3000), t)), np.maximum(amount, 0.5))
        second = pop.has_second_device[cust] & (rng.random(t) < 0.3)
        rows = _rows(cust, merch, amount, ms, _channel(rng, cat), np.where(second, pop.n + cust + 1, cust + 1), NONE)
        keep = ms >= pop.active_ms[cust]
        return {k: v[keep] for k, v in rows.items()}

    def bursts(self, victims: np.ndarray) -> dict[str, np.ndarray]:
        """Legit: 4 small contactless payments at one merchant within < 10 s (transit gates, a round of drinks)."""
        rng, k = self.rng(1), len(victims)
        inst, rank = u.expand(np.full(k, 4))
        gaps = np.where(rank == 0, 0, rng.integers(1500, 2800, len(inst)))
        ms = self.t0(rng, k, u.MS_MINUTE)[inst] + u.group_cumsum(gaps, np.full(k, 4))
        merch = self.m.sample(rng, self.pop.country[victims], exclude_atm=True)[inst]
        cust = victims[inst]
        return _rows(cust, merch, rng.uniform(3, 40, len(inst)), ms, CONTACTLESS, cust + 1, LEGIT_BURST)

    def card_testing(self, victims: np.ndarray) -> dict[str, np.ndarray]:
        """3-5 probes ($0.5-5, minutes apart, distinct merchants) then 1-3 high-value ($900-3000)."""
        rng, k = self.rng(2), len(victims)
        n_probe = rng.integers(3, 6, k)
        n_high = rng.integers(1, 4, k)
        counts = n_probe + n_high
        inst, rank = u.expand(counts)
        probe = rank < n_probe[inst]
        gap_min = np.where(probe, rng.uniform(1, 5, len(inst)), rng.uniform(2, 15, len(inst)))
        gaps = np.where(rank == 0, 0, (gap_min * u.MS_MINUTE).astype(np.int64))
        ms = self.t0(rng, k, 2 * u.MS_HOUR)[inst] + u.group_cumsum(gaps, counts)
        pool = self.m.of_categories(_PROBE_CATS)
        pool = rng.permutation(pool if len(pool) else np.arange(self.m.n))
        probe_m = pool[(rng.integers(0, len(pool), k)[inst] + rank) % len(pool)]
        high_pool = self.m.of_categories(_HIGH_CATS)
        high_m = high_pool[rng.integers(0, len(high_pool), len(inst))]
        amount = np.where(probe, rng.uniform(0.5, 5.0, len(inst)), rng.uniform(900, 3000, len(inst)))
        dev = self.new_devices(k)[inst]
        return _rows(victims[inst], np.where(probe, probe_m, high_m), amount, ms, ECOMMERCE, dev, CARD_TESTING)

    def takeover(self, victims: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Login + password/device change from a new device and foreign IP, then 4-8 tx 1-2 s apart (< 10 s)."""
        rng, k = self.rng(3), len(victims)
        login = self.t0(rng, k, u.MS_HOUR)
        change = login + rng.integers(20 * u.MS_SECOND, 3 * u.MS_MINUTE, k)
        device = self.new_devices(k)
        ip = len(u.COUNTRIES) + len(u.TRAVEL_COUNTRIES) + rng.integers(0, len(u.FOREIGN_IP), k)
        change_type = np.where(rng.random(k) < 0.5, 3, 2)  # password_change / device_change
        events = {
            "cust": np.repeat(victims, 2), "ms": np.column_stack([login, change]).ravel(),
            "type": np.column_stack([np.zeros(k, dtype=np.int64), change_type]).ravel(),
            "device": np.repeat(device, 2), "ip": np.repeat(ip, 2),
        }
        counts = rng.integers(4, 9, k)
        inst, rank = u.expand(counts)
        widest = np.minimum(2000, 9500 // (counts - 1))        # 1-2 s apart, all within 9.5 s
        gaps = np.where(rank == 0, 0, 1000 + (rng.random(len(inst)) * (widest[inst] - 1000)).astype(np.int64))
        start = change + rng.integers(2 * u.MS_MINUTE, 20 * u.MS_MINUTE, k)
        ms = start[inst] + u.group_cumsum(gaps, counts)
        pool = self.m.of_categories(_HIGH_CATS + _PROBE_CATS)
        merch = pool[rng.integers(0, len(pool), len(inst))]
        amount = np.clip(rng.lognormal(np.log(250), 0.6, len(inst)), 40, 1500)
        return _rows(victims[inst], merch, amount, ms, ECOMMERCE, device[inst], TAKEOVER), events

    def amount_jump(self, victims: np.ndarray, mu: np.ndarray) -> dict[str, np.ndarray]:
        """3-8 tx over 1-2 days at 5-10x the customer's usual amount, mostly still below 800, usual device."""
        rng, k, days = self.rng(4), len(victims), self.cfg.days
        dur = np.minimum(rng.integers(1, 3, k), days)
        d0 = (rng.random(k) * (days - dur + 1)).astype(np.int64)
        counts = rng.integers(3, 9, k)
        inst, _ = u.expand(counts)
        day = d0[inst] + (rng.random(len(inst)) * dur[inst]).astype(np.int64)
        ms = self.pop.start_ms + day * u.MS_DAY + u.time_of_day(rng, len(inst))
        cust = victims[inst]
        merch = self.m.sample(rng, self.pop.country[cust], exclude_atm=True)
        cat = self.m.cat[merch]
        amount = np.exp(mu[cust]) * np.minimum(_CAT_MULT[cat], 1.5) * rng.uniform(5, 10, len(inst))
        capped = (amount > 799.99) & (rng.random(len(inst)) < 0.85)
        amount = np.where(capped, rng.uniform(550, 799.99, len(inst)), np.minimum(amount, 1600))
        return _rows(cust, merch, amount, ms, _channel(rng, cat), cust + 1, AMOUNT_JUMP)

    def compromised(self, legit: dict[str, np.ndarray], budget: float) -> np.ndarray:
        """Mark legit tx at a few merchants during 3-7 consecutive days as fraud (returns the mask)."""
        rng, days, n_m = self.rng(5), self.cfg.days, self.m.n
        dur = np.minimum(rng.integers(3, 8, n_m), days)
        d0 = (rng.random(n_m) * (days - dur + 1)).astype(np.int64)
        merch = legit["merch"]
        day = (legit["ms"] - self.pop.start_ms) // u.MS_DAY
        in_win = (day >= d0[merch]) & (day < d0[merch] + dur[merch])
        count = np.bincount(merch, weights=in_win, minlength=n_m)
        chosen = np.zeros(n_m, dtype=bool)
        remaining = budget
        for m in rng.permutation(n_m):
            if remaining <= 0:
                break
            if 0 < count[m] <= max(remaining, 2.0) * 1.5:
                chosen[m] = True
                remaining -= count[m]
        if not chosen.any() and (count > 0).any():
            chosen[np.flatnonzero(count > 0)[np.argmin(count[count > 0])]] = True
        return chosen[merch] & in_win


def make_transactions(seed: int, pop: Population, cfg, merchants: Merchants) -> TransactionResult:
    b = _Builder(seed, pop, cfg, merchants)
    rng = b.rng(6)
    mu = np.log(22) + 0.45 * np.log(pop.income / 3400) + 0.3 * rng.standard_normal(pop.n)
    sigma = rng.uniform(0.55, 0.95, pop.n)
    legit = b.legit(mu, sigma)
    t = len(legit["ms"])
    fraud_budget = FRAUD_SHARE * t
    pool = rng.permutation(np.flatnonzero(~pop.thin & (pop.signup_ms < pop.start_ms)))
    parts, events = [legit], None
    victim = np.zeros(pop.n, dtype=bool)
    if t > 0 and len(pool) > 0:
        wanted = [max(1, round(t / 25_000)), max(1, round(0.22 * fraud_budget / 7))]
        wanted += [max(1, round(0.22 * fraud_budget / 6)), max(1, round(0.16 * fraud_budget / 5.5))]
        small = pool[np.exp(mu[pool]) <= 45]
        cuts, at = [], 0
        for w in wanted[:3]:
            cuts.append(pool[at: at + w])
            at += w
        aj_pool = np.setdiff1d(small if len(small) else pool, pool[:at], assume_unique=True)
        aj_pool = rng.permutation(aj_pool)[: wanted[3]]
        parts.append(b.bursts(cuts[0]))
        parts.append(b.card_testing(cuts[1]))
        ato_rows, events = b.takeover(cuts[2])
        parts.append(ato_rows)
        parts.append(b.amount_jump(aj_pool, mu))
        cm = b.compromised(legit, 0.4 * fraud_budget)
        legit["scen"][cm] = COMPROMISED
        for cut in (cuts[1], cuts[2], aj_pool, legit["cust"][cm]):
            victim[cut] = True
    rows = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    rows["ms"] = np.minimum(rows["ms"], pop.end_ms - 1)
    order = np.argsort(rows["ms"], kind="stable")
    rows = {k: v[order] for k, v in rows.items()}
    device_width = max(8, len(str(b.next_device)))
    tx = _transactions_frame(rows, pop, merchants, device_width)
    fraud = (rows["scen"] != NONE) & (rows["scen"] != LEGIT_BURST)
    truth = pd.DataFrame({
        "transaction_id": tx["transaction_id"], "customer_id": tx["customer_id"],
        "is_fraud": fraud, "scenario": u.labels(SCENARIOS, rows["scen"]),
    })
    labels = _labels(u.rng_for(seed, 107), cfg, pop, tx, rows, fraud)
    if events is None:
        events = {"cust": np.zeros(0, np.int64), "ms": np.zeros(0, np.int64), "type": np.zeros(0, np.int64),
                  "device": np.zeros(0, np.int64), "ip": np.zeros(0, np.int64)}
    return TransactionResult(tx, truth, labels, events, victim, device_width)


def _transactions_frame(rows, pop: Population, merchants: Merchants, device_width: int) -> pd.DataFrame:
    country = merchants.country[rows["merch"]]
    return pd.DataFrame({
        "transaction_id": u.str_col(u.id_array("T", np.arange(1, len(rows["ms"]) + 1), 10)),
        "customer_id": pop.ids(rows["cust"]),
        "merchant_id": u.str_col(u.id_array("M", rows["merch"] + 1, 5)),
        "amount": rows["amount"],
        "currency": u.labels(u.CURRENCIES, u.COUNTRY_CURRENCY[country]),
        "event_time": u.ts_col(rows["ms"]),
        "channel": u.labels(CHANNELS, rows["chan"]),
        "merchant_category": u.labels(CATEGORIES, merchants.cat[rows["merch"]]),
        "country": u.labels(u.COUNTRIES, country),
        "device_id": u.str_col(u.id_array("DV", rows["dev"], device_width)),
    })


def _labels(rng, cfg, pop: Population, tx: pd.DataFrame, rows, fraud: np.ndarray) -> pd.DataFrame:
    """Chargebacks for ``label_coverage`` of fraud, reported 1-20 days later (skewed short)."""
    idx = np.flatnonzero(fraud)
    idx = idx[rng.random(len(idx)) < cfg.label_coverage]
    delay = ((1 + 19 * rng.beta(1.2, 4.5, len(idx))) * u.MS_DAY).astype(np.int64)
    reported = rows["ms"][idx] + delay
    if not cfg.land_future_labels:
        keep = reported < pop.end_ms
        idx, reported = idx[keep], reported[keep]
    order = np.argsort(reported, kind="stable")
    idx, reported = idx[order], reported[order]
    return pd.DataFrame({
        "label_id": u.str_col(u.id_array("FL", np.arange(1, len(idx) + 1), 9)),
        "transaction_id": tx["transaction_id"].iloc[idx].reset_index(drop=True),
        "customer_id": tx["customer_id"].iloc[idx].reset_index(drop=True),
        "is_fraud": np.ones(len(idx), dtype=bool),
        "fraud_type": u.labels(SCENARIOS, rows["scen"][idx]),
        "amount": rows["amount"][idx],
        "reported_time": u.ts_col(reported),
    })
