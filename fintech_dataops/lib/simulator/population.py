"""Customers and their credit-related / alternative data (internal part of the simulator).

Every customer has a latent risk driver ``z`` (standard normal); the public
``latent_risk`` is ``sigmoid(z - 1)``. Everything credit-related is drawn
from ``z`` with noise: academic score and education, bankruptcies, utility
and telco payment behaviour, partner-loan delinquency, declared income and
the 12-month default of the loan book's applications (:func:`default_probability`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fintech_dataops.lib.simulator import util as u

SEGMENTS = ("mass", "affluent", "student", "small_business")
EDUCATION = ("none", "high_school", "bachelor", "master", "doctorate")
LOAN_STATUS = ("current", "paid_off", "late", "default")
TERMS = np.array([6, 12, 24, 36, 48, 60])
PURPOSES = ("debt_consolidation", "home_improvement", "car", "education", "medical", "business", "other")
EVENT_TYPES = ("login", "app_open", "device_change", "password_change", "address_change", "payment_method_added")
_EVENT_P = (0.46, 0.455, 0.02, 0.015, 0.015, 0.035)
UTILITY_PROVIDERS = ("brightwave_power", "cityflow_water", "northgas", "sunpeak_energy")
_UTILITY_BASE = (85.0, 38.0, 55.0, 90.0)
TELCO_PROVIDERS = ("telconnect", "mobiwave", "fibrenet", "skyline_mobile")
PLAN_TYPES = ("prepaid", "postpaid", "internet", "bundle")
_PLAN_BASE = (25.0, 55.0, 45.0, 95.0)

_FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
          "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
          "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Paul", "Emily",
          "Steven", "Donna", "Andrew", "Michelle", "Kenji", "Amara", "Luca", "Sofia", "Mateo", "Chloe",
          "Noah", "Olivia", "Liam", "Emma", "Lucas", "Mia", "Arjun", "Priya", "Wei", "Fatima")
_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
         "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
         "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
         "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
         "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts")
_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass
class Population:
    """Per-customer arrays (index i ↔ customer_id C{i+1:07d}, ids follow signup order)."""

    n: int
    start_ms: int
    end_ms: int
    z: np.ndarray
    latent_risk: np.ndarray
    thin: np.ndarray
    country: np.ndarray
    signup_ms: np.ndarray
    active_ms: np.ndarray          # max(signup, window start)
    income: np.ndarray
    birth_year: np.ndarray
    has_second_device: np.ndarray
    customer_ids: pa.Array

    @property
    def currency(self) -> np.ndarray:
        return u.COUNTRY_CURRENCY[self.country]

    def ids(self, idx: np.ndarray) -> pd.Series:
        return pc.take(self.customer_ids, pa.array(np.asarray(idx, dtype=np.int64))).to_pandas()


def make_population(rng: np.random.Generator, cfg, start_ms: int, end_ms: int) -> tuple[Population, pd.DataFrame]:
    n = cfg.customers
    p_new = min(0.3, 0.002 * cfg.days)
    is_new = rng.random(n) < p_new
    historic = start_ms - rng.integers(u.MS_DAY, 6 * 365 * u.MS_DAY, n)
    in_window = start_ms + rng.integers(0, cfg.days, n) * u.MS_DAY + u.time_of_day(rng, n)
    signup = np.sort(np.where(is_new, in_window, historic))
    z = rng.standard_normal(n)
    thin = rng.random(n) < cfg.thin_file_fraction
    country = u.pick(rng, u.COUNTRY_P, n)
    age = np.where(thin, 18 + rng.gamma(2.0, 6.0, n), 20 + rng.gamma(2.6, 8.0, n))
    birth_year = cfg.start.year - np.clip(age, 18, 85).astype(np.int64)
    r = rng.random(n)
    p_student = np.where(thin, 0.45, 0.05)
    p_affluent = np.clip(np.where(thin, 0.03, 0.12) * np.exp(-0.5 * z), 0, 0.4)
    segment = np.select(
        [r < p_student, r < p_student + p_affluent, r < p_student + p_affluent + 0.07],
        [2, 1, 3], default=0,
    )
    seg_mult = np.array([1.0, 2.3, 0.35, 1.6])[segment]
    income = np.round(3400 * seg_mult * np.exp(-0.3 * z + 0.4 * rng.standard_normal(n)) / 10) * 10
    income = np.maximum(income, 300.0)
    first = rng.integers(0, len(_FIRST), n)
    last = rng.integers(0, len(_LAST), n)
    domain = rng.integers(0, len(_DOMAINS), n)
    has_second = rng.random(n) < 0.4

    ids = u.id_array("C", np.arange(1, n + 1), 7)
    first_a = pc.take(pa.array(_FIRST), pa.array(first))
    last_a = pc.take(pa.array(_LAST), pa.array(last))
    full_name = pc.binary_join_element_wise(first_a, last_a, " ")
    email = pc.binary_join_element_wise(
        pc.utf8_lower(first_a), ".", pc.utf8_lower(last_a), u.id_array("", np.arange(1, n + 1), 1), "@",
        pc.take(pa.array(_DOMAINS), pa.array(domain)), "",
    )
    pop = Population(
        n=n, start_ms=start_ms, end_ms=end_ms, z=z, latent_risk=u.sigmoid(z - 1.0), thin=thin,
        country=country, signup_ms=signup, active_ms=np.maximum(signup, start_ms), income=income,
        birth_year=birth_year, has_second_device=has_second, customer_ids=ids,
    )
    customers = pd.DataFrame({
        "customer_id": u.str_col(ids),
        "full_name": u.str_col(full_name),
        "email": u.str_col(email),
        "country": u.labels(u.COUNTRIES, country),
        "birth_year": birth_year,
        "signup_time": u.ts_col(signup),
        "declared_monthly_income": u.money(income),
        "segment": u.labels(SEGMENTS, segment),
    })
    return pop, customers


def _sorted(frame: pd.DataFrame, ms: np.ndarray, id_col: str, prefix: str, width: int) -> pd.DataFrame:
    """Order rows by time and number the ids in that order."""
    order = np.argsort(ms, kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, id_col, u.str_col(u.id_array(prefix, np.arange(1, len(frame) + 1), width)))
    return frame


def make_public_records(rng: np.random.Generator, pop: Population) -> pd.DataFrame:
    n = pop.n
    has = rng.random(n) < 0.9
    z = pop.z
    score = np.clip(np.round(72 - 10 * z + 11 * rng.standard_normal(n), 1), 0, 100)
    level = np.searchsorted(np.array([-1.45, 0.05, 1.05, 1.85]), -0.8 * z + rng.standard_normal(n))
    grad_age = np.array([0, 18, 22, 24, 29])[level] + rng.integers(0, 4, n)
    grad_year = np.minimum(pop.birth_year + grad_age, u.date_of(pop.start_ms // u.MS_DAY).year + 1)
    bankruptcies = rng.poisson(0.01 + 0.35 * pop.latent_risk ** 2)
    as_of = np.minimum(pop.active_ms + rng.integers(u.MS_MINUTE, 6 * u.MS_HOUR, n), pop.end_ms - 1)
    idx = np.flatnonzero(has)
    frame = pd.DataFrame({
        "customer_id": pop.ids(idx),
        "academic_score": score[idx],
        "education_level": u.labels(EDUCATION, level[idx]),
        "graduation_year": pd.arrays.IntegerArray(grad_year[idx].astype(np.int64), level[idx] == 0),
        "bankruptcies": bankruptcies[idx].astype(np.int64),
        "as_of_time": u.ts_col(as_of[idx]),
    })
    return _sorted(frame, as_of[idx], "record_id", "PUB", 8)


# Bill history the providers share: every account's bills due in the 12 months before the window.
BILL_HISTORY_DAYS = 365


def make_bills(rng: np.random.Generator, pop: Population, cfg, *, telco: bool) -> pd.DataFrame:
    """Monthly bills of utility (1-2 accounts) or telco (1 plan, sometimes 2) customers, with 12 months of history.

    A record is the provider's payment report (``event_time``). A bill is settled at its payment
    time, or 15 days after the due date when still unpaid (``paid_date`` null, ``amount_paid`` 0).
    The provider's reporting of an account starts in the window (within two days of the window's
    start, or of the customer's signup) with a backfill: every bill due in the 12 months before the
    window and settled by then is reported at that moment; later bills are reported as they settle.
    Only reports inside the window are kept.

    Payment behaviour is driven by the latent risk ``z`` (late, unpaid, partial, days late), like
    a bureau's payment grid: twelve months of it say much more about a customer than one bill.
    """
    n = pop.n
    coverage = 0.9 if telco else 0.85
    n_acc = np.where(rng.random(n) < coverage, 1 + (rng.random(n) < (0.15 if telco else 0.35)), 0)
    cust, rank = u.expand(n_acc)
    first_kind = rng.integers(0, 4, n)
    kind = (first_kind[cust] + rank) % 4
    base = np.array(_PLAN_BASE if telco else _UTILITY_BASE)[kind]
    base = base * np.exp(0.25 * rng.standard_normal(len(cust))) * (pop.income[cust] / 3400) ** 0.25
    provider = rng.integers(0, 4, len(cust)) if telco else kind
    offset = rng.integers(0, 30, len(cust))
    # When the provider starts reporting the account (its history backfill): early in the window.
    starts_ms = np.maximum(pop.active_ms[cust], pop.start_ms) + rng.integers(0, 2 * u.MS_DAY, len(cust))
    starts_ms = np.minimum(starts_ms, pop.end_ms - 1)
    cycles = np.arange(-(BILL_HISTORY_DAYS // 30 + 1), cfg.days // 30 + 2)
    acc = np.repeat(np.arange(len(cust)), len(cycles))
    start_day = pop.start_ms // u.MS_DAY
    due = start_day + offset[acc] + 30 * np.tile(cycles, len(cust))
    # History: due in the 12 months before the window; settled (paid, or 45 days late) before its end.
    near = (due >= start_day - BILL_HISTORY_DAYS) & (due - 8 < start_day + cfg.days)
    acc, due = acc[near], due[near]
    c = cust[acc]
    z = pop.z[c]
    m = len(acc)
    unpaid = rng.random(m) < u.sigmoid(-4.0 + 1.5 * z)
    late = rng.random(m) < u.sigmoid(-2.3 + 1.3 * z)
    partial = rng.random(m) < u.sigmoid(-3.6 + 1.1 * z)
    delay = np.minimum(rng.geometric(1.0 / (2.0 + 12.0 * pop.latent_risk[c])), 45)
    paid_day = np.where(late, due + delay, due - rng.integers(0, 8, m))
    settled_ms = np.where(unpaid, due + 15, paid_day) * u.MS_DAY + u.time_of_day(rng, m)
    event_ms = np.maximum(settled_ms, starts_ms[acc])
    bill = u.money(base[acc] * np.exp(0.12 * rng.standard_normal(m)))
    paid = np.where(unpaid, 0.0, np.where(partial, u.money(bill * rng.uniform(0.3, 0.9, m)), bill))
    keep = (event_ms >= pop.start_ms) & (event_ms < pop.end_ms) & (event_ms >= pop.active_ms[c])
    k = np.flatnonzero(keep)
    cols = {
        "customer_id": pop.ids(c[k]),
        "provider": u.labels(TELCO_PROVIDERS if telco else UTILITY_PROVIDERS, provider[acc][k]),
    }
    if telco:
        cols["plan_type"] = u.labels(PLAN_TYPES, kind[acc][k])
    cols.update({
        "bill_amount": bill[k],
        "amount_paid": paid[k],
        "currency": u.labels(u.CURRENCIES, pop.currency[c[k]]),
        "due_date": u.date_col(due[k]),
        "paid_date": u.date_col(paid_day[k], missing=unpaid[k]),
        "event_time": u.ts_col(event_ms[k]),
    })
    return _sorted(pd.DataFrame(cols), event_ms[k], "payment_id", "TP" if telco else "UP", 9)


def make_partner_loans(rng: np.random.Generator, pop: Population, cfg) -> pd.DataFrame:
    """Monthly status reports of loans at partner fintechs (non-thin customers only)."""
    n = pop.n
    has = (rng.random(n) < 0.38) & ~pop.thin
    cust, _ = u.expand(np.where(has, 1 + (rng.random(n) < 0.25), 0))
    n_loans = len(cust)
    term = TERMS[rng.integers(0, len(TERMS), n_loans)]
    start_day = pop.start_ms // u.MS_DAY
    opened = start_day - np.round(rng.uniform(0.3, term + 4.0) * 30.44).astype(np.int64)
    principal = np.maximum(np.round(np.exp(np.log(4000) + 0.3 * np.log(pop.income[cust] / 3400)
                                           + 0.7 * rng.standard_normal(n_loans)) / 50) * 50, 300.0)
    partner = rng.integers(1, 9, n_loans)
    report_offset = rng.integers(0, 30, n_loans)
    z = pop.z[cust]
    will_default = rng.random(n_loans) < u.sigmoid(-3.4 + 1.6 * z)
    default_month = rng.uniform(1.5, term)
    months = np.arange(cfg.days // 30 + 2)
    loan = np.repeat(np.arange(n_loans), len(months))
    report_day = start_day + report_offset[loan] + 30 * np.tile(months, n_loans)
    m = len(loan)
    age = (report_day - opened[loan]) / 30.44
    t = term[loan]
    c = cust[loan]
    defaulted = will_default[loan] & (age >= default_month[loan])
    paid_off = ~defaulted & (age >= t)
    late = ~defaulted & ~paid_off & (rng.random(m) < u.sigmoid(-2.8 + 1.3 * z[loan]))
    status = np.select([defaulted, paid_off, late], [3, 1, 2], default=0)
    dpd = np.select(
        [defaulted, late],
        [90 + np.floor((age - default_month[loan]) * 30.44),
         np.minimum(rng.geometric(1.0 / (6.0 + 30.0 * pop.latent_risk[c])), 89)],
        default=0,
    ).astype(np.int64)
    paid_share = np.clip(np.where(defaulted, default_month[loan], age) / t, 0, 1)
    outstanding = np.where(paid_off, 0.0, u.money(principal[loan] * 1.08 * (1 - paid_share)))
    report_ms = report_day * u.MS_DAY + u.time_of_day(rng, m)
    keep = ((report_ms >= pop.start_ms) & (report_ms < pop.end_ms) & (report_ms >= pop.active_ms[c])
            & ~(paid_off & (age >= t + 3)))
    k = np.flatnonzero(keep)
    lk = loan[k]
    frame = pd.DataFrame({
        "loan_id": u.str_col(u.id_array("L", lk + 1, 8)),
        "customer_id": pop.ids(c[k]),
        "partner_id": u.str_col(u.id_array("P", partner[lk], 3)),
        "principal": principal[lk],
        "currency": u.labels(u.CURRENCIES, pop.currency[c[k]]),
        "opened_date": u.date_col(opened[lk]),
        "term_months": t[k].astype(np.int64),
        "status": u.labels(LOAN_STATUS, status[k]),
        "days_past_due": dpd[k],
        "outstanding": outstanding[k],
        "reported_time": u.ts_col(report_ms[k]),
    })
    return _sorted(frame, report_ms[k], "report_id", "LR", 9)


# The loan book behind ``loan_outcomes``: applications 13-36 months before the window's end, each
# observed for 12 months after it was granted (matured before the window) and reported in the window.
BOOK_FIRST_MONTHS_BACK, BOOK_LAST_MONTHS_BACK = 36, 13
BOOK_APPLY_P = 0.95            # share of eligible customers (signed up before the book's last month) in it
OUTCOME_MONTHS = 12
MS_MONTH = int(30.44 * u.MS_DAY)


def default_probability(z: np.ndarray) -> np.ndarray:
    """The simulator's true 12-month default probability of a loan (latent truth: never a feature)."""
    return u.sigmoid(-2.6 + 1.4 * z)


def make_applications(rng: np.random.Generator, pop: Population) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Pending applications during the window, and the matured loan book with its outcomes.

    - ``loan_applications``: applications submitted during the window, waiting for a decision
      (their outcome cannot be known yet);
    - ``loan_outcomes``: applications of earlier vintages (13-36 months before the window's end,
      ids ``AH…``), each observed for 12 months (``months_observed``), with ``applied_time``; the
      matured outcomes are reported during the window (``observed_time``);
    - the truth: each book application's true default probability (for the oracle AUC).
    """
    n = pop.n
    idx = np.flatnonzero(rng.random(n) < np.where(pop.thin, 0.06, 0.04))
    k = len(idx)
    span = pop.end_ms - pop.active_ms[idx]
    event_ms = pop.active_ms[idx] + (rng.random(k) * span).astype(np.int64)
    event_ms = np.minimum(event_ms, pop.end_ms - 1)
    z = pop.z[idx]
    requested = np.maximum(np.round(np.exp(np.log(3000) + 0.3 * np.log(pop.income[idx] / 3400)
                                           + 0.6 * rng.standard_normal(k)) / 100) * 100, 500.0)
    declared = np.round(pop.income[idx] * np.exp(0.05 * rng.standard_normal(k) + 0.04 * z) / 10) * 10
    apps = pd.DataFrame({
        "customer_id": pop.ids(idx),
        "requested_amount": requested,
        "currency": u.labels(u.CURRENCIES, pop.currency[idx]),
        "term_months": TERMS[rng.integers(0, len(TERMS), k)].astype(np.int64),
        "purpose": u.labels(PURPOSES, u.pick(rng, (0.3, 0.15, 0.15, 0.1, 0.08, 0.1, 0.12), k)),
        "declared_monthly_income": declared,
        "event_time": u.ts_col(event_ms),
    })
    apps = _sorted(apps, event_ms, "application_id", "A", 8)
    outcomes, truth = _loan_book(rng, pop)
    return apps, outcomes, truth


def _loan_book(rng: np.random.Generator, pop: Population) -> tuple[pd.DataFrame, pd.DataFrame]:
    first = pop.end_ms - BOOK_FIRST_MONTHS_BACK * MS_MONTH
    last = pop.end_ms - BOOK_LAST_MONTHS_BACK * MS_MONTH
    idx = np.flatnonzero((pop.signup_ms < last) & (rng.random(pop.n) < BOOK_APPLY_P))
    k = len(idx)
    opens = np.maximum(pop.signup_ms[idx], first)
    applied_ms = opens + (rng.random(k) * (last - opens)).astype(np.int64)
    p_default = default_probability(pop.z[idx])
    defaulted = rng.random(k) < p_default
    observed_ms = pop.start_ms + (rng.random(k) * (pop.end_ms - pop.start_ms)).astype(np.int64)
    order = np.argsort(applied_ms, kind="stable")
    idx, applied_ms, p_default, defaulted = idx[order], applied_ms[order], p_default[order], defaulted[order]
    observed_ms = observed_ms[order]
    ids = u.str_col(u.id_array("AH", np.arange(1, k + 1), 8))
    outcomes = pd.DataFrame({
        "application_id": ids,
        "customer_id": pop.ids(idx),
        "defaulted": defaulted,
        "months_observed": np.full(k, OUTCOME_MONTHS, dtype=np.int64),
        "applied_time": u.ts_col(applied_ms),
        "observed_time": u.ts_col(observed_ms),
    })
    truth = pd.DataFrame({"application_id": ids, "customer_id": outcomes["customer_id"],
                          "default_probability": p_default})
    out_order = np.argsort(observed_ms, kind="stable")
    return outcomes.iloc[out_order].reset_index(drop=True), truth


def base_consumer_events(rng: np.random.Generator, pop: Population, cfg) -> dict[str, np.ndarray]:
    """Ordinary app/account events of every customer (thin-file ones included), as arrays."""
    n = pop.n
    first_day = (pop.active_ms - pop.start_ms) // u.MS_DAY
    n_days = cfg.days - first_day
    counts = rng.poisson(1.2 * rng.gamma(2.0, 0.5, n) * n_days)
    cust, _ = u.expand(counts)
    m = len(cust)
    day = first_day[cust] + (rng.random(m) * n_days[cust]).astype(np.int64)
    ms = pop.start_ms + day * u.MS_DAY + u.time_of_day(rng, m)
    etype = u.pick(rng, _EVENT_P, m)
    second = (etype == 2) | (pop.has_second_device[cust] & (rng.random(m) < 0.3))
    device = np.where(second, pop.n + cust + 1, cust + 1)
    travel = rng.random(m) < 0.03
    ip = np.where(travel, rng.integers(0, len(u.COUNTRIES) + len(u.TRAVEL_COUNTRIES), m), pop.country[cust])
    keep = ms >= pop.active_ms[cust]
    return {"cust": cust[keep], "ms": ms[keep], "type": etype[keep], "device": device[keep], "ip": ip[keep]}


def consumer_events_frame(parts: list[dict[str, np.ndarray]], pop: Population, device_width: int) -> pd.DataFrame:
    ev = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.argsort(ev["ms"], kind="stable")
    ev = {key: v[order] for key, v in ev.items()}
    return pd.DataFrame({
        "event_id": u.str_col(u.id_array("E", np.arange(1, len(order) + 1), 10)),
        "customer_id": pop.ids(ev["cust"]),
        "event_type": u.labels(EVENT_TYPES, ev["type"]),
        "event_time": u.ts_col(ev["ms"]),
        "device_id": u.str_col(u.id_array("DV", ev["device"], device_width)),
        "ip_country": u.labels(u.IP_COUNTRIES, ev["ip"]),
    })
