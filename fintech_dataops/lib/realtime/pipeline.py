"""One micro-batch, on the scoring thread: score → write-ahead log (fsync) → alerts.

``process`` is what the :class:`~.batcher.MicroBatcher` calls. It returns the
decisions only after the WAL fsync, so whatever the HTTP layer acknowledges is
already durable. Malformed records take the same path without scoring: they are
logged (and later landed) exactly as received, for the quarantine.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from fintech_dataops.lib.realtime.engine_host import EngineHost
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


_ENGINE_COLUMNS = ("transaction_id", "customer_id", "merchant_id", "amount", "currency")


def engine_frame(accepted: list[Accepted]) -> pd.DataFrame:
    """The micro-batch as the engine reads it, built column-wise (cheaper than a dict per record).

    ``event_time`` is the already-parsed UTC instant, so the engine never re-parses text and
    can never reject a record the service accepted (its output stays aligned with the input).
    """
    columns = {name: [a.record[name] for a in accepted] for name in _ENGINE_COLUMNS}
    columns["event_time"] = pd.DatetimeIndex([a.event_time for a in accepted]).tz_convert(None)
    return pd.DataFrame(columns)


def _column(frame: pd.DataFrame, name: str, n: int) -> list:
    if name not in frame.columns:
        return [None] * n
    return frame[name].tolist()


class DecisionPipeline:
    def __init__(self, host: EngineHost, wal: DurableLog, alerts_path: Path, *, recent_alerts: int = 1000,
                 bounds_every_seconds: float = 10.0):
        self.host = host
        self.wal = wal
        self.alerts_path = Path(alerts_path)
        self.alerts_path.parent.mkdir(parents=True, exist_ok=True)
        self._alerts_handle = open(self.alerts_path, "ab")
        self.recent_alerts: deque[dict] = deque(maxlen=recent_alerts)
        self._recent_lock = threading.Lock()
        self.bounds_every_seconds = bounds_every_seconds
        self._last_bounds = time.monotonic()
        self.decided = 0
        self.malformed = 0
        self.alerts = 0
        self.decision_counts = {"approve": 0, "review": 0, "block": 0}

    def process(self, jobs: list[ScoreJob]) -> list[list[dict]]:
        accepted = [a for job in jobs for a in job.accepted]
        decisions = self._decide(accepted) if accepted else []
        entries: list[LogEntry] = []
        results: list[list[dict]] = []
        position = 0
        for job in jobs:
            job_decisions = decisions[position: position + len(job.accepted)]
            position += len(job.accepted)
            for item, decision in zip(job.accepted, job_decisions):
                entries.append(LogEntry(line=item.line, day=item.event_time.date().isoformat(), decision=decision))
            day = job.received_at.date().isoformat()
            entries.extend(LogEntry(line=r.line, day=day) for r in job.rejected)
            results.append([{k: d[k] for k in RESPONSE_FIELDS} for d in job_decisions])
        self.wal.append(entries)  # fsync: from here on the events survive a crash
        self._publish_alerts(decisions)
        self.decided += len(decisions)
        self.malformed += sum(len(job.rejected) for job in jobs)
        if time.monotonic() - self._last_bounds >= self.bounds_every_seconds:
            self.host.enforce_bounds()
            self._last_bounds = time.monotonic()
        return results

    def _decide(self, accepted: list[Accepted]) -> list[dict]:
        frame = self.host.score(engine_frame(accepted))
        n = len(accepted)
        if len(frame) != n:
            raise RuntimeError(f"the engine returned {len(frame)} decisions for {n} transactions")
        decided_at = iso_utc(datetime.now(timezone.utc))
        risk = np.round(frame["risk_score"].to_numpy(dtype="float64"), 6).tolist()
        model_score = frame["model_score"].to_numpy(dtype="float64") if "model_score" in frame else np.full(n, np.nan)
        model_score = [None if np.isnan(v) else round(float(v), 6) for v in model_score]
        decisions = _column(frame, "decision", n)
        rule_ids, reasons = _column(frame, "rule_ids", n), _column(frame, "reasons", n)
        version = self.host.model_version
        out = []
        for i, item in enumerate(accepted):
            record = item.record
            out.append({
                "transaction_id": record["transaction_id"],
                "customer_id": record["customer_id"],
                "merchant_id": record["merchant_id"],
                "amount": record["amount"],
                "currency": record["currency"],
                "event_time": iso_utc(item.event_time),
                "decision": str(decisions[i]),
                "risk_score": risk[i],
                "model_score": model_score[i],
                "rule_ids": list(rule_ids[i] or []),
                "reasons": [str(r) for r in (reasons[i] or [])],
                "model_version": version,
                "decided_at": decided_at,
            })
            self.decision_counts[out[-1]["decision"]] = self.decision_counts.get(out[-1]["decision"], 0) + 1
        return out

    def _publish_alerts(self, decisions: list[dict]) -> None:
        alerts = [d for d in decisions if d["decision"] != "approve"]
        if not alerts:
            return
        self._alerts_handle.write(b"".join(orjson.dumps(a) + b"\n" for a in alerts))
        self._alerts_handle.flush()  # tail -f sees it now; durability is the WAL's job
        with self._recent_lock:
            self.recent_alerts.extend(alerts)
        self.alerts += len(alerts)

    def latest_alerts(self, limit: int) -> list[dict]:
        """Newest first."""
        with self._recent_lock:
            items = list(self.recent_alerts)[-limit:] if limit > 0 else []
        return items[::-1]

    def close(self) -> None:
        self._alerts_handle.close()
