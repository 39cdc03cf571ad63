"""The ``alert_sink`` resource: where alerts go.

Embedded default: one JSON line per alert in ``<data dir>/alerts.log`` plus a log line. With a
Slack incoming-webhook URL (``FINTECH_SLACK_WEBHOOK_URL``, read through ``dg.EnvVar`` when an alert
is sent; or the ``slack_webhook_url`` field set with ``dg.EnvVar``) every alert is also posted to
Slack; unset, Slack is off. The URL is a secret: it is never logged, put in metadata or in errors.
"""

from __future__ import annotations

import logging

import dagster as dg
from pydantic import Field

from fintech_dataops.lib import alerts
from fintech_dataops.lib.ingestion.landing import resolve_data_dir

SLACK_WEBHOOK_ENV = "FINTECH_SLACK_WEBHOOK_URL"
_log = logging.getLogger("fintech_dataops.alerts")


class AlertSink(dg.ConfigurableResource):
    """Alert log under the data dir, and Slack when a webhook URL is configured (off by default)."""

    data_dir: str = Field(default="", description="Data dir holding alerts.log; empty = $FINTECH_DATA_DIR or ./data")
    slack_webhook_url: str = Field(
        default="",
        description=f"Slack incoming-webhook URL (secret: set it with EnvVar); empty = ${SLACK_WEBHOOK_ENV}, unset = off",
    )
    slack_webhook_env: str = Field(
        default=SLACK_WEBHOOK_ENV,
        description="Environment variable read for the webhook URL when slack_webhook_url is empty; a tenant's "
                    "code location names its own (empty = no Slack), never the platform's",
    )
    slack_timeout_seconds: float = Field(default=5.0)

    @property
    def log_path(self):
        return resolve_data_dir(self.data_dir) / "alerts.log"

    def send(self, alert: alerts.Alert, log: logging.Logger | None = None) -> None:
        logger = log or _log
        alerts.append_alert(self.log_path, alert)
        logger.warning(f"ALERT {alert.to_text()}")
        if self.webhook_url:
            self._post_to_slack(alert, logger)

    @property
    def webhook_url(self) -> str:
        """The configured URL, else ``$FINTECH_SLACK_WEBHOOK_URL`` read when an alert is sent (never at import)."""
        if self.slack_webhook_url:
            return self.slack_webhook_url
        return (dg.EnvVar(self.slack_webhook_env).get_value() or "") if self.slack_webhook_env else ""

    def _post_to_slack(self, alert: alerts.Alert, logger: logging.Logger) -> None:
        error = alerts.post_to_slack(self.webhook_url, alert, timeout=self.slack_timeout_seconds)
        if error and error.startswith("HTTP"):
            logger.error(f"Slack webhook refused alert {alert.dedup_key}: {error}")
        elif error:
            logger.error(f"Slack webhook {error} for alert {alert.dedup_key}")
