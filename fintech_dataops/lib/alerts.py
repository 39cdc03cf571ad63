"""Alerts as data: what a failed check or run says, and how it is written locally (no dagster here).

An alert is one JSON object: when, what kind (``asset_check`` / ``run_failure``), severity, the
asset / check / run it is about, a human message and a dedup key. The local sink appends one line
per alert to ``<data dir>/alerts.log``; the dedup key lets a reader spot a repeated delivery.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path


@dataclass(frozen=True)
class Alert:
    kind: str
    severity: str
    title: str
    message: str
    dedup_key: str
    asset_key: str | None = None
    check_name: str | None = None
    partition: str | None = None
    run_id: str | None = None
    details: dict = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="milliseconds"))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    def to_text(self) -> str:
        """One line for logs and chat: severity, title, message."""
        return f"[{self.severity}] {self.title}: {self.message}"


def check_failure_alert(
    *, asset_key: str, check_name: str, severity: str, description: str | None, partition: str | None,
    run_id: str | None, storage_id: int, details: dict | None = None,
) -> Alert:
    where = f"{asset_key}" + (f" [{partition}]" if partition else "")
    return Alert(
        kind="asset_check",
        severity=severity,
        title=f"check {check_name} failed on {where}",
        message=description or "the check did not pass",
        dedup_key=f"asset_check:{run_id}:{storage_id}",
        asset_key=asset_key,
        check_name=check_name,
        partition=partition,
        run_id=run_id,
        details=details or {},
    )


def run_failure_alert(*, job_name: str, run_id: str, message: str, partition: str | None = None) -> Alert:
    return Alert(
        kind="run_failure",
        severity="ERROR",
        title=f"run of {job_name} failed" + (f" [{partition}]" if partition else ""),
        message=message[:2000],
        dedup_key=f"run_failure:{run_id}",
        partition=partition,
        run_id=run_id,
    )


def append_alert(path: Path, alert: Alert) -> None:
    """Append one JSON line; a single write() of a short line is atomic on POSIX appends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (alert.to_json() + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_alerts(path: Path) -> list[dict]:
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def slack_payload(alert: Alert) -> dict:
    """Body for a Slack incoming webhook."""
    icon = ":rotating_light:" if alert.severity == "ERROR" else ":warning:"
    text = f"{icon} *{alert.title}*\n{alert.message}"
    if alert.run_id:
        text += f"\nrun `{alert.run_id}`"
    return {"text": text}


def post_to_slack(url: str, alert: Alert, timeout: float = 5.0) -> str | None:
    """POST ``alert`` to a Slack incoming webhook; None when accepted, else why (never the URL: a secret).

    urllib, not httpx: httpx logs every request URL at INFO, and this URL is a secret.
    """
    request = urllib.request.Request(url, data=json.dumps(slack_payload(alert)).encode("utf-8"),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"unreachable ({type(exc).__name__})"  # the exception text can contain the URL
    return None
