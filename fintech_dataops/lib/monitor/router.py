"""The monitor's HTTP routes (a FastAPI router): mounted by the decision service, or served alone.

- ``GET  /monitor``                               the page (``lib.monitor.page``)
- ``GET  /monitor/api/queue``                     ``view`` (open|mine|today|all), ``q``, ``decision``, ``sort``, ``limit``
- ``GET  /monitor/api/alerts/{transaction_id}``   one alert with its case (notes, history)
- ``GET  /monitor/api/customers/{customer_id}``   recent transactions and prior alerts
- ``POST /monitor/api/alerts/{transaction_id}/assign|note|close``  ``{"assignee"}``, ``{"note"}``,
  ``{"disposition", "note"}``

With staff keys configured (``lib.monitor.staff``) every ``/monitor/api`` call needs a valid
``X-Staff-Key`` (401 otherwise) and the key names the analyst; with none configured the queue is
readable (loopback only) and every action is refused (403). The transaction-submission key is
never a staff key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from fintech_dataops.lib.monitor.cases import CaseActionError, record_action
from fintech_dataops.lib.monitor.page import render_monitor_page
from fintech_dataops.lib.monitor.queue import MonitorData, select
from fintech_dataops.lib.monitor.staff import HEADER, StaffKeys

MAX_ACTION_BYTES = 16 * 1024
# Where the monitor is served: the decision service (`serve`) and `fintech-dataops monitor` both default to it.
DEFAULT_MONITOR_URL = "http://127.0.0.1:8700/monitor"


def _json(payload, status: int = 200) -> Response:
    return Response(orjson.dumps(payload, default=str), status_code=status, media_type="application/json")


def monitor_router(data: MonitorData | Callable[[Request], MonitorData], staff: StaffKeys, *,
                   base: str = "/monitor", reporting_currency: str = "USD") -> APIRouter:
    """``data`` is the monitor's data, or how to find it from a request (built at the app's startup)."""
    router = APIRouter()

    def data_for(request: Request) -> MonitorData:
        return data(request) if callable(data) else data

    def who(request: Request) -> tuple[str | None, Response | None]:
        analyst = staff.analyst_of(request)
        if staff.configured and analyst is None:
            return None, _json({"error": "missing or invalid staff key (X-Staff-Key)"}, 401)
        return analyst, None

    @router.get(base, response_class=HTMLResponse)
    async def page(request: Request):
        from fintech_dataops.lib.tenancy.branding import brand_page, branding_for

        # A tenant's storage root holds its profile: its name, logo and colour on its page (white label).
        branding = branding_for(Path(data_for(request).landing_dir).parent)
        return HTMLResponse(brand_page(render_monitor_page(base=base, reporting_currency=reporting_currency), branding))

    @router.get(base + "/api/queue")
    def queue(request: Request, view: str = "open", q: str = "", decision: str = "", sort: str = "newest",
              limit: int = 200):
        analyst, refused = who(request)
        if refused:
            return refused
        now = datetime.now(UTC).replace(tzinfo=None)
        source = data_for(request)
        try:
            payload = select(source.rows(now), view=view, q=q, decision=decision, sort=sort, limit=limit,
                             analyst=analyst, now=now)
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        return _json({**payload, "generated_at": now.isoformat(timespec="milliseconds"), "analyst": analyst,
                      "staff_keys_configured": staff.configured, "warehouse_note": source.warehouse_note,
                      "reporting_currency": source.reporting_currency})

    @router.get(base + "/api/alerts/{transaction_id}")
    def alert(request: Request, transaction_id: str):
        _, refused = who(request)
        if refused:
            return refused
        source = data_for(request)
        row = source.alert(transaction_id)
        if row is None:
            return _json({"error": f"no alert for transaction {transaction_id!r}"}, 404)
        case = source.cases.get(transaction_id)
        return _json({"alert": row, "case": case.as_json() if case else None})

    @router.get(base + "/api/customers/{customer_id}")
    def customer(request: Request, customer_id: str):
        _, refused = who(request)
        if refused:
            return refused
        return _json(data_for(request).customer(customer_id))

    @router.post(base + "/api/alerts/{transaction_id}/{action}")
    async def act(request: Request, transaction_id: str, action: str):
        analyst, refused = who(request)
        if refused:
            return refused
        if analyst is None:
            return _json({"error": "case actions need staff keys: set FINTECH_STAFF_KEYS or FINTECH_STAFF_KEYS_FILE"}, 403)
        body = await request.body()
        if len(body) > MAX_ACTION_BYTES:
            return _json({"error": f"request body larger than {MAX_ACTION_BYTES:,} bytes"}, 413)
        try:
            fields = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            return _json({"error": "the body is not JSON"}, 400)
        if not isinstance(fields, dict) or not all(v is None or isinstance(v, str) for v in fields.values()):
            return _json({"error": "the body is a JSON object of strings"}, 400)
        source = data_for(request)
        row = source.alert(transaction_id)
        if row is None:
            return _json({"error": f"no alert for transaction {transaction_id!r}"}, 404)
        try:
            event, case = record_action(source.cases, source.landing_dir, row, action=action, analyst=analyst,
                                        disposition=fields.get("disposition"), assignee=fields.get("assignee"),
                                        note=fields.get("note"))
        except CaseActionError as exc:
            return _json({"error": str(exc)}, 422)
        return _json({"recorded": event.__dict__, "case": case.as_json()})

    return router
