"""Deterministic, vectorised simulator of every landing-zone feed, with ground truth.

``simulate(config)`` draws customers (latent credit risk, thin-file share),
their alternative data (public records, utility and telco bills, partner
loans, pending applications, a loan book of earlier vintages with matured 12-month
outcomes, app events), card
transactions with four fraud scenarios and chargeback labels, all with numpy
Generators seeded from ``config.seed`` (one independent stream per
component). ``land_simulation`` renders each feed to JSON lines, injects
malformed lines and lands one immutable file per feed and day.

Same config → identical frames, lines and file bytes. Nothing loops per
record except the few malformed lines.

Column types of ``Simulation.feeds`` (the landed JSON text is in brackets):
ids, codes and names are ``str`` ["C0000001"]; ``*_time`` columns are
``datetime64[ms, UTC]`` ["2026-10-01T12:34:56.123Z"]; ``due_date``,
``paid_date``, ``opened_date`` are naive ``datetime64[s]`` at midnight, NaT for
an unpaid bill ["2026-10-01" / null]; amounts are float64 rounded to cents
[12.50 — always two decimals]; ``academic_score`` float with one decimal;
counts are int64 (``graduation_year`` nullable ``Int64``, null for education
'none'); ``is_fraud``/``defaulted`` bool [true/false].

Ids: customers C0000001 (numbered in signup order), merchants M00001,
transactions T0000000001, consumer events E0000000001, devices DV00000001,
public records PUB00000001, partner loans L00000001 / reports LR000000001,
partners P001, utility / telco payments UP… / TP…, applications A00000001,
labels FL000000001 — each numbered in time order within its feed. A number
that outgrows its width widens (ids stay unique).

Malformed lines (``malformed_rate`` per feed-day, binomial; at least one when
a feed-day has >= 200 lines and the rate is > 0; none at rate 0). Kinds, see
``MALFORMED_KINDS``: ``missing_field`` / ``null_field`` (id, customer_id, time
or amount field), ``wrong_type`` ("12.5x" amount, or the id as a JSON
number), ``negative_amount``, ``nonfinite_amount`` (literal NaN / Infinity /
-Infinity: invalid strict JSON), ``bad_currency`` ("XXX" / "usd$"),
``bad_timestamp`` ("2026-13-45T99:00"), ``duplicate`` (exact copy of an
earlier good line of the day) and ``truncated`` (cut copy: invalid JSON).
Field corruptions REPLACE the record's good line; ``duplicate`` and
``truncated`` (``EXTRA_KINDS``) are ADDED next to the good line they copy.
So landed lines = ``len(sim.feeds[feed])`` + extras, and every clean record
is landed either intact or corrupted: nothing is silently removed.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from dataclasses import dataclass, field

import pandas as pd

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.simulator import population as popmod
from fintech_dataops.lib.simulator import util as u
from fintech_dataops.lib.ingestion.feeds import FEED_NAMES, FEEDS
from fintech_dataops.lib.money.simulated import apply_currencies, demo_rates
from fintech_dataops.lib.simulator.render import (
    EXTRA_KINDS,
    MALFORMED_KINDS,
    DayLines,
    RenderedFeed,
    applicable_kinds,
    render_frame,
)
from fintech_dataops.lib.simulator.transactions import SCENARIOS, make_merchants, make_transactions

__all__ = [
    "DayLines", "EXTRA_KINDS", "MALFORMED_KINDS", "SCENARIOS", "FRAUD_SCENARIOS", "LandingReport", "RenderedFeed",
    "Simulation", "SimulationConfig", "applicable_kinds", "land_simulation", "render_feed",
    "render_feed_lines", "simulate",
]

FRAUD_SCENARIOS = ("card_testing", "compromised_merchant", "account_takeover", "amount_jump")


@dataclass(frozen=True)
class SimulationConfig:
    start: dt.date
    days: int = 30
    customers: int = 3000
    seed: int = 42
    thin_file_fraction: float = 0.2        # customers with no transactions and no partner loans, only alternative data
    malformed_rate: float = 0.002          # fraction of landed lines that are malformed (per feed)
    transactions_per_customer_day: float = 2.5
    label_coverage: float = 0.95           # share of fraud transactions that get a chargeback label
    land_future_labels: bool = False       # labels whose reported day is after the window are not landed
    bad_days: tuple[dt.date, ...] = ()     # days whose lines are malformed at bad_day_malformed_rate (a bad feed day)
    bad_day_malformed_rate: float = 0.04

    def __post_init__(self) -> None:
        if not isinstance(self.start, dt.date) or isinstance(self.start, dt.datetime):
            raise TypeError(f"start must be a datetime.date, got {self.start!r}")
        if self.days < 1 or self.customers < 1:
            raise ValueError("days and customers must be at least 1")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
        for name in ("thin_file_fraction", "malformed_rate", "label_coverage", "bad_day_malformed_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        if self.transactions_per_customer_day < 0:
            raise ValueError("transactions_per_customer_day must be >= 0")

    @property
    def end(self) -> dt.date:
        """First day *after* the window."""
        return self.start + dt.timedelta(days=self.days)


@dataclass
class Simulation:
    config: SimulationConfig
    feeds: dict[str, pd.DataFrame]   # clean records per feed name, columns == FEEDS[name].fields
    truth: pd.DataFrame              # transaction_id, customer_id, is_fraud, scenario
    customer_truth: pd.DataFrame     # customer_id, latent_risk, thin_file, fraud_victim
    # application_id, customer_id, default_probability of every loan_outcomes row (the oracle)
    loan_truth: pd.DataFrame = field(default_factory=pd.DataFrame)
    rates: object = None             # lib.money.simulated.DemoRates: the FX reference rates the demo lands


def simulate(config: SimulationConfig) -> Simulation:
    """Generate every feed plus ground truth for ``config`` (deterministic).

    ``feeds['fraud_labels']`` holds only the labels that are landed: those
    reported inside the window, or all of them with ``land_future_labels``
    (``truth.is_fraud`` is complete either way).
    """
    seed = config.seed
    start_ms = u.day_number(config.start) * u.MS_DAY
    end_ms = start_ms + config.days * u.MS_DAY
    pop, customers = popmod.make_population(u.rng_for(seed, 1), config, start_ms, end_ms)
    public = popmod.make_public_records(u.rng_for(seed, 2), pop)
    utility = popmod.make_bills(u.rng_for(seed, 3), pop, config, telco=False)
    telco = popmod.make_bills(u.rng_for(seed, 4), pop, config, telco=True)
    loans = popmod.make_partner_loans(u.rng_for(seed, 5), pop, config)
    applications, outcomes, loan_truth = popmod.make_applications(u.rng_for(seed, 6), pop)
    merchants = make_merchants(u.rng_for(seed, 7), config.customers)
    tx = make_transactions(seed, pop, config, merchants)
    # Merchants abroad charge in their currency (JPY, BHD, GBP, EUR) at the day's reference rate.
    rates = demo_rates(config.start, config.days, seed)
    apply_currencies(tx.transactions, tx.labels, rates.fx)
    events = popmod.consumer_events_frame(
        [popmod.base_consumer_events(u.rng_for(seed, 8), pop, config), tx.takeover_events], pop, tx.device_width,
    )
    feeds = {
        "customers": customers, "transactions": tx.transactions, "consumer_events": events,
        "public_records": public, "partner_loans": loans, "utility_payments": utility,
        "telco_payments": telco, "loan_applications": applications, "fraud_labels": tx.labels,
        "loan_outcomes": outcomes,
    }
    feeds = {name: feeds[name][list(FEEDS[name].fields)] for name in FEED_NAMES}
    customer_truth = pd.DataFrame({
        "customer_id": customers["customer_id"],
        "latent_risk": pop.latent_risk,
        "thin_file": pop.thin,
        "fraud_victim": tx.fraud_victim,
    })
    return Simulation(config=config, feeds=feeds, truth=tx.truth, customer_truth=customer_truth,
                      loan_truth=loan_truth, rates=rates)


def render_feed(sim: Simulation, feed: str) -> RenderedFeed:
    """Lines per landing day of one feed plus where the malformed ones are and of which kind."""
    if feed not in FEEDS:
        raise KeyError(f"unknown feed {feed!r}; known: {', '.join(FEED_NAMES)}")
    cfg = sim.config
    return render_frame(sim.feeds.get(feed), feed, cfg.start, cfg.seed, cfg.malformed_rate,
                        day_rates={day: cfg.bad_day_malformed_rate for day in cfg.bad_days})


def render_feed_lines(sim: Simulation, feed: str) -> dict[dt.date, list[str]]:
    """Lines (no newline) per landing day, malformed ones included; deterministic.

    Day = UTC date of the feed's time field (customers: max(signup day, start)).
    Lines are ordered by that time within a day. Malformed lines: see
    ``render.malform_day``: field corruptions *replace* their
    record's line, ``duplicate``/``truncated`` copies are *extra* lines, so
    ``lines == len(sim.feeds[feed]) + extras``.
    """
    return render_feed(sim, feed).lines


@dataclass
class LandingReport:
    files: list[pathlib.Path]                  # every target file, written or skipped (identical)
    lines_per_feed: dict[str, int]             # lines in those files, malformed included (every feed listed)
    malformed_per_feed: dict[str, int]         # malformed lines (replacements + extras)
    skipped_existing: int                      # files already there with identical bytes
    extra_lines_per_feed: dict[str, int] = field(default_factory=dict)   # duplicates + truncated copies
    malformed_kinds: dict[str, dict[str, int]] = field(default_factory=dict)
    written: list[pathlib.Path] = field(default_factory=list)
    fx_rate_files: list[pathlib.Path] = field(default_factory=list)  # landing/fx_rates (not a simulated feed)


def land_simulation(sim: Simulation, landing_dir: pathlib.Path, batch_prefix: str = "sim") -> LandingReport:
    """Render every feed to JSONL lines, inject malformed lines at config.malformed_rate, and land one file per
    feed per day at landing_dir/<feed>/date=YYYY-MM-DD/<batch_prefix>-<seed>.jsonl via landing.land_batch
    (atomic). If the target exists with identical bytes, skip it (count in skipped_existing); if it exists with
    different bytes, raise FileExistsError with a clear message."""
    landing_dir = pathlib.Path(landing_dir)
    batch_id = landing.safe_name(f"{batch_prefix}-{sim.config.seed}", "batch id")
    report = LandingReport(files=[], lines_per_feed={}, malformed_per_feed={}, skipped_existing=0)
    for feed in FEED_NAMES:
        rendered = render_feed(sim, feed)
        for day, day_lines in rendered.days.items():
            data = day_lines.to_bytes()
            target = landing.partition_dir(landing_dir, feed, day) / f"{batch_id}.jsonl"
            if not _same_file(target, data):
                try:
                    target = landing.land_batch(landing_dir, feed, day, batch_id, data)
                    report.written.append(target)
                except FileExistsError:
                    if not _same_file(target, data):
                        raise
                    report.skipped_existing += 1
            else:
                report.skipped_existing += 1
            report.files.append(target)
        report.lines_per_feed[feed] = rendered.n_lines
        report.malformed_per_feed[feed] = rendered.n_malformed
        report.extra_lines_per_feed[feed] = rendered.n_extra
        report.malformed_kinds[feed] = rendered.kind_counts()
    _land_fx_rates(sim, landing_dir, batch_id, report)
    return report


def _land_fx_rates(sim: Simulation, landing_dir: pathlib.Path, batch_id: str, report: LandingReport) -> None:
    """The reference rates the demo converted with (ECB; ``simulated`` after the bundled history ends)."""
    if sim.rates is None:
        return
    from fintech_dataops.lib.money.feed import FX_RATES_FEED

    for day, lines in sim.rates.lines_by_landing_day(sim.config.start, sim.config.days).items():
        data = ("\n".join(lines) + "\n").encode()
        target = landing.partition_dir(landing_dir, FX_RATES_FEED.name, day) / f"{batch_id}.jsonl"
        if not _same_file(target, data):
            landing.land_batch(landing_dir, FX_RATES_FEED.name, day, batch_id, data)
        report.fx_rate_files.append(target)


def _same_file(target: pathlib.Path, data: bytes) -> bool:
    """False if absent; True if identical; FileExistsError if it holds other bytes."""
    try:
        size = target.stat().st_size
    except FileNotFoundError:
        return False
    if size == len(data) and target.read_bytes() == data:
        return True
    raise FileExistsError(
        f"{target} already exists with different content ({size} bytes, this simulation renders {len(data)}): "
        "landed files are immutable. Another config with the same seed and batch prefix was landed here; "
        "use another batch_prefix/seed or a fresh landing dir."
    )
