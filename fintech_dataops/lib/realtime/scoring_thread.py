"""One micro-batch: score (the scoring thread) → write-ahead log (fsync) → alerts (the WAL writer).

``score`` and ``commit`` are what the :class:`~.request_coalescer.MicroBatcher` calls, on two
threads, so one micro-batch's fsync overlaps the next one's scoring (``process`` does both in
the calling thread). The decisions are returned only after the WAL fsync, so whatever the
HTTP layer acknowledges is already durable. Malformed records take the same path without scoring: they are
logged (and later landed) exactly as received, for the quarantine.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson

from fintech_dataops.lib.realtime.engine_host import EngineHost
from fintech_dataops.lib.realtime.gc_tuning import HeapKeeper
from fintech_dataops.lib.realtime.records import Accepted, Rejected
from fintech_dataops.lib.realtime.wal import DurableLog, LogEntry

ALERTS_STREAM_FILE = "alerts_stream.jsonl"
RESPONSE_FIELDS = ("transaction_id", "decision", "risk_score", "rule_ids", "reasons", "model_version")


@dataclass
class ScoreJob:
    """One request's records: the scorable ones and the malformed ones."""

    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US = timedelta(microseconds=1)


def engine_columns(accepted: list[Accepted]) -> dict[str, np.ndarray]:
    """The micro-batch as the engine's fast path reads it: one array per column, no DataFrame.

    The records passed the shared validator (``schemas.transaction_contract``: string ids, a
    finite positive amount, a parsed event time), so every one is scored and the output stays
    aligned with the input.
    ``device_id`` is carried (null → ""), as in the batch path, so the device feature is the
    one the model was trained on.
    """
    records = [a.record for a in accepted]
    n = len(records)
    amount = np.fromiter((r["amount"] for r in records), dtype="float64", count=n)
    return {
        "transaction_id": np.array([r["transaction_id"] for r in records], dtype=object),
        "customer_id": np.array([r["customer_id"] for r in records], dtype=object),
        "merchant_id": np.array([r["merchant_id"] for r in records], dtype=object),
        "device_id": np.array([r.get("device_id") or "" for r in records], dtype=object),
        "currency": np.array([r["currency"] for r in records], dtype=object),
        "amount": amount,
        "amount_cents": np.round(amount * 100).astype("int64"),
        "event_us": np.fromiter(((a.event_time - _EPOCH) // _ONE_US for a in accepted), dtype="int64", count=n),
    }


def iso_utc_array(event_us: np.ndarray) -> list[str]:
    """UTC microseconds → ``2026-01-31T12:00:00.000000Z`` (what :func:`iso_utc` writes), vectorised."""
    text = np.datetime_as_string(event_us.astype("datetime64[us]"), unit="us")
    return np.char.add(text, "Z").tolist()


def _reporting_amounts(scored: dict, n: int) -> list:
    """The amounts in the reporting currency, rounded to cents (None: no rate); None each if the engine has none."""
    if "amount_reporting" not in scored:
        return [None] * n
    return _none_for_nan(np.round(np.asarray(scored["amount_reporting"], dtype="float64"), 2))


def _none_for_nan(values: np.ndarray) -> list:
    rounded = np.round(values.astype("float64"), 6)
    return [None if v != v else v for v in rounded.tolist()]


@dataclass
class Scored:
    """A scored micro-batch on its way to the WAL: its requests, the engine's decision arrays and the
    model version that scored it. Answers and WAL lines are built from it on the WAL writer
    (:meth:`DecisionPipeline.commit`), so the scoring thread goes on with the next micro-batch."""

    jobs: list[ScoreJob]
    accepted: list[Accepted]
    columns: dict | None
    engine_out: dict | None
    model_version: str | None
    malformed: int
    events: int
    score_s: float


class PhaseTimes:
    """The last ``keep`` micro-batches' phase durations: ``score`` (features, rules, model, bounds,
    the collector's freeze; the scoring thread, or the scoring process and the round trip to it),
    ``answers`` (decision records, WAL lines, answers), ``wal`` (encode, write, fsync: the
    acknowledgement waits for it) and ``after`` (alerts; these three on the WAL writer). Written by
    the WAL writer only; read as a snapshot."""

    PHASES = ("score", "wal", "after", "answers")

    def __init__(self, keep: int = 2_000):
        self._rows: deque[tuple[int, float, float, float, float]] = deque(maxlen=keep)

    def add(self, events: int, score_s: float, wal_s: float, after_s: float, answers_s: float = 0.0) -> None:
        self._rows.append((events, score_s, wal_s, after_s, answers_s))

    def summary(self) -> dict:
        rows = list(self._rows)  # one C-level copy: safe against the scoring thread appending
        if not rows:
            return {"micro_batches": 0}
        table = np.asarray(rows, dtype="float64")
        out: dict = {"micro_batches": len(rows), "events_p50": float(np.percentile(table[:, 0], 50))}
        for k, name in enumerate(self.PHASES, start=1):
            p50, p99 = np.percentile(table[:, k], [50, 99]) * 1000.0
            out[name] = {"p50": round(float(p50), 2), "p99": round(float(p99), 2),
                         "max": round(float(table[:, k].max()) * 1000.0, 2)}
        return out


class DecisionPipeline:
    def __init__(self, host: EngineHost, wal: DurableLog, alerts_path: Path, *, recent_alerts: int = 1000,
                 bounds_every_seconds: float = 10.0, heap: HeapKeeper | None = None,
                 alerts_max_bytes: int = 256 * 1024 * 1024, alerts_keep: int = 8):
        self.host = host
        self.wal = wal
        self.alerts_path = Path(alerts_path)
        self.alerts_path.parent.mkdir(parents=True, exist_ok=True)
        self._alerts_handle = open(self.alerts_path, "ab")
        self.alerts_max_bytes = alerts_max_bytes
        self.alerts_keep = alerts_keep
        self.recent_alerts: deque[dict] = deque(maxlen=recent_alerts)
        self._recent_lock = threading.Lock()
        self.bounds_every_seconds = bounds_every_seconds
        self._last_bounds = time.monotonic()
        self.heap = heap  # the service passes one; library use leaves the process's collector alone
        self.decided = 0
        self.malformed = 0
        self.alerts = 0
        self.decision_counts = {"approve": 0, "review": 0, "block": 0}
        self.on_alerts = None  # called with each micro-batch's new alerts (the service's notifier: lib/monitor/notify)
        self.phases = PhaseTimes()  # where a micro-batch's time goes (/health "micro_batch_phases_ms")

    def process(self, jobs: list[ScoreJob]) -> list[list[dict]]:
        """Score, log (fsync) and publish one micro-batch in the calling thread: each request's decisions."""
        return self.commit(self.score(jobs))

    def score(self, jobs: list[ScoreJob]) -> Scored:
        """The scoring thread's half: the engine's decisions (nothing durable yet).

        The service's :class:`~.request_coalescer.MicroBatcher` hands the result to :meth:`commit`
        on its WAL-writer thread and scores the next micro-batch meanwhile; nothing is answered
        before its commit returns.
        """
        started = time.perf_counter()
        accepted = [a for job in jobs for a in job.accepted]
        columns = engine_columns(accepted) if accepted else None
        engine_out = self.host.score_arrays(columns) if accepted else None
        version = self.host.model_version
        if time.monotonic() - self._last_bounds >= self.bounds_every_seconds:
            self.host.enforce_bounds()  # touches the window state: the scoring thread's
            self._last_bounds = time.monotonic()
        if self.heap is not None:
            self.heap.tick()  # between two micro-batches, on the scoring thread
        return Scored(jobs=jobs, accepted=accepted, columns=columns, engine_out=engine_out, model_version=version,
                      malformed=sum(len(job.rejected) for job in jobs), events=len(accepted),
                      score_s=time.perf_counter() - started)

    def commit(self, scored: Scored) -> list[list[dict]]:
        """The WAL writer's half, in micro-batch order: the decision records, WAL lines and answers,
        append + fsync, then the alerts; the answers.

        Raises what the WAL raised (nothing of the micro-batch is acknowledged then)."""
        started = time.perf_counter()
        decisions = self._decide(scored) if scored.accepted else []
        entries: list[LogEntry] = []
        results: list[list[dict]] = []
        position = 0
        for job in scored.jobs:
            job_decisions = decisions[position: position + len(job.accepted)]
            position += len(job.accepted)
            for item, decision in zip(job.accepted, job_decisions):
                entries.append(LogEntry(line=item.line, day=item.event_time.date().isoformat(), decision=decision))
            day = job.received_at.date().isoformat()
            entries.extend(LogEntry(line=r.line, day=day) for r in job.rejected)
            results.append([{k: d[k] for k in RESPONSE_FIELDS} for d in job_decisions])
        answered = time.perf_counter()
        self.wal.append(entries)  # fsync: from here on the events survive a crash
        logged = time.perf_counter()
        self._publish_alerts(decisions)
        self.decided += len(decisions)
        self.malformed += scored.malformed
        self.phases.add(scored.events, scored.score_s, logged - answered, time.perf_counter() - logged,
                        answered - started)
        return results

    def _decide(self, batch: Scored) -> list[dict]:
        accepted, columns, scored = batch.accepted, batch.columns, batch.engine_out
        n = len(accepted)
        decisions = scored["decision"]
        if len(decisions) != n:
            raise RuntimeError(f"the engine returned {len(decisions)} decisions for {n} transactions")
        decided_at = iso_utc(datetime.now(timezone.utc))
        labels, counts = np.unique(decisions, return_counts=True)
        for label, count in zip(labels.tolist(), counts.tolist()):
            self.decision_counts[label] = self.decision_counts.get(label, 0) + count
        # per row when the engine says (shards adopt a new model one after the other), else the batch's
        versions = scored.get("model_version")
        versions = list(versions) if versions is not None else [batch.model_version] * n
        return [
            {
                "transaction_id": tx, "customer_id": customer, "merchant_id": merchant,
                "amount": amount, "currency": currency, "event_time": event_time,
                "decision": decision, "risk_score": risk, "model_score": model_score,
                "rule_ids": list(rule_ids), "reasons": [str(r) for r in reasons],
                "model_version": version, "decided_at": decided_at,
                "channel": record.get("channel"), "country": record.get("country"),  # the monitor's context
                "amount_reporting": reporting,
            }
            for tx, customer, merchant, amount, currency, event_time, decision, risk, model_score, rule_ids, reasons, record,
            reporting, version in zip(columns["transaction_id"].tolist(), columns["customer_id"].tolist(),
                   columns["merchant_id"].tolist(), columns["amount"].tolist(), columns["currency"].tolist(),
                   iso_utc_array(columns["event_us"]), np.asarray(decisions).tolist(),
                   np.round(np.asarray(scored["risk_score"], dtype="float64"), 6).tolist(),
                   _none_for_nan(np.asarray(scored["model_score"])), scored["rule_ids"], scored["reasons"],
                   (a.record for a in accepted), _reporting_amounts(scored, n), versions)
        ]

    def _publish_alerts(self, decisions: list[dict]) -> None:
        alerts = [d for d in decisions if d["decision"] != "approve"]
        if not alerts:
            return
        self._alerts_handle.write(b"".join(orjson.dumps(a) + b"\n" for a in alerts))
        self._alerts_handle.flush()  # tail -f sees it now; durability is the WAL's job
        if self._alerts_handle.tell() >= self.alerts_max_bytes:
            self._rotate_alerts()
        with self._recent_lock:
            self.recent_alerts.extend(alerts)
        self.alerts += len(alerts)
        if self.on_alerts is not None:
            self.on_alerts(alerts)

    def _rotate_alerts(self) -> None:
        """Close the stream as ``alerts_stream.<UTC time>.jsonl`` and start a new one; keep the newest few.

        The stream is for people tailing it (``tail -F`` follows the rename); the durable record
        of every decision is the landed ``fraud_decisions`` feed, so old stream files can go.
        """
        self._alerts_handle.close()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        self.alerts_path.rename(self.alerts_path.with_name(f"{self.alerts_path.stem}.{stamp}{self.alerts_path.suffix}"))
        self._alerts_handle = open(self.alerts_path, "ab")
        rotated = sorted(self.alerts_path.parent.glob(f"{self.alerts_path.stem}.*{self.alerts_path.suffix}"))
        for old in rotated[: max(0, len(rotated) - self.alerts_keep)]:
            old.unlink(missing_ok=True)

    def latest_alerts(self, limit: int) -> list[dict]:
        """Newest first."""
        with self._recent_lock:
            items = list(self.recent_alerts)[-limit:] if limit > 0 else []
        return items[::-1]

    def close(self) -> None:
        self._alerts_handle.close()
