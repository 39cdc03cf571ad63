"""The HTTP surface of the decision service (FastAPI on uvicorn).

- ``POST /v1/transactions`` one transaction → its decision.
- ``POST /v1/transactions/batch`` a list (or ``{"transactions": [...]}``) → one decision per
  record; if any record is malformed the whole batch is refused (422, ``rejected``: index, field,
  check and reason of each), nothing of it acknowledged.
- ``GET /health`` liveness and the figures an operator looks at.
- ``GET /monitor/alerts`` the latest alerts, newest first; ``GET /monitor`` the analyst's monitor
  (queue, cases, dispositions: ``lib.monitor.router``).
- ``GET /advisor`` the LLM financial advisor's chat page and ``POST /advisor/api/ask`` (``lib.advisor.web``).

Records are judged by the validator the core quality gate uses
(``schemas.transaction_contract``): a 2xx means every record of the request will reach
``core.transactions``. A refused request (400/409/413/422) is landed as ONE bounded line that
core quarantines as ``refused_by_service``; a resend of an acknowledged transaction_id is
refused (409). An answer leaves only after what it covers is in the WAL (fsync). With ``FINTECH_API_KEY`` set, ``/v1`` requires it in ``X-API-Key``
(or ``Authorization: Bearer``); the key is never logged or echoed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from fintech_dataops.lib.ingestion.limits import RateLimiter
from fintech_dataops.lib.monitor.notify import FraudAlertNotifier, NotifyConfig
from fintech_dataops.lib.monitor.queue import MonitorData
from fintech_dataops.lib.advisor.web import advisor_router
from fintech_dataops.lib.monitor.router import monitor_router
from fintech_dataops.lib.monitor.staff import StaffKeys
from fintech_dataops.lib.monitor.live import alerts_payload
from fintech_dataops.lib.realtime.acknowledged import AcknowledgedIds, recently_acknowledged
from fintech_dataops.lib.realtime.request_coalescer import MicroBatcher, Overloaded
from fintech_dataops.lib.realtime.engine_host import EngineHost, WarmStartReport, engine_for
from fintech_dataops.lib.realtime.gc_tuning import GilSlices, HeapKeeper
from fintech_dataops.lib.realtime.scoring_thread import ALERTS_STREAM_FILE, DecisionPipeline, ScoreJob
from fintech_dataops.lib.realtime.records import MalformedRequest, Rejected, classify, read_body
from fintech_dataops.lib.realtime.wal import BATCH_PREFIX, DurableLog
from fintech_dataops.schemas.transaction_contract import REFUSED_MARKER, refused_line

log = logging.getLogger("fintech_dataops.realtime")
API_KEY_ENV = "FINTECH_API_KEY"
REFUSED_HEAD_BYTES = 512  # of a refused body, kept in its one landed line (with its size and SHA-256)


@dataclass
class ServiceConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8700
    batch_window_ms: float = 2.0
    gil_switch_interval_ms: float | None = 1.0  # while serving (lib/realtime/gc_tuning.GilSlices); None: 5 ms default
    max_batch_events: int = 20_000
    max_queued_events: int | None = 50_000  # load shedding: about 5 s of work at 10k EPS
    rotate_seconds: float = 1.0
    reload_seconds: float = 5.0
    max_body_bytes: int = 2_000_000
    max_batch_records: int = 10_000
    max_customers: int = 1_000_000
    max_requests_per_second: float | None = None  # per client; None = no limit
    request_burst: int = 50
    warm_start: bool = True
    warm_start_lookback_seconds: float | None = None
    warm_start_max_rows: int = 2_000_000
    # The engine (window state, model) in this many child processes, customer-sharded, off the HTTP
    # process's GIL (lib/realtime/scoring_process); 0: on a thread of this process.
    scoring_processes: int = 0
    api_key: str | None = field(default=None, repr=False)
    staff_keys: StaffKeys = field(default_factory=StaffKeys, repr=False)  # the monitor's case actions (lib/monitor)
    notify: NotifyConfig = field(default_factory=NotifyConfig)  # block / high-score review → alerts.log (+ Slack)
    slack_webhook_url: str | None = field(default=None, repr=False)  # a secret; None = log only
    remember_ids: int = 1_000_000  # acknowledged transaction ids kept to refuse resends (409)
    # Connection-level limits (the uvicorn server in server.py; in-process test clients bypass them).
    request_timeout_seconds: float = 10.0   # to send a complete request, headers and body
    keep_alive_seconds: float = 75.0        # an idle kept-alive connection is closed after this
    max_connections: int = 1_000            # open connections; beyond them new ones are closed
    max_header_bytes: int = 32 * 1024
    forwarded_allow_ips: tuple[str, ...] = ()  # proxies whose X-Forwarded-For is believed (none)

    def __post_init__(self) -> None:
        if self.request_timeout_seconds <= 0 or self.keep_alive_seconds <= 0:
            raise ValueError("request and keep-alive timeouts must be positive")
        if self.scoring_processes < 0:
            raise ValueError("scoring_processes must be 0 (score on a thread) or more")
        if self.max_connections < 1 or self.max_header_bytes < 1024 or self.remember_ids < 1:
            raise ValueError("max_connections and remember_ids must be at least 1, max_header_bytes at least 1024")
        self.staff_keys.refuse_shared_with(self.api_key)

    @property
    def database(self) -> Path:
        return Path(self.data_dir) / "warehouse.duckdb"

    @property
    def models_dir(self) -> Path:
        return Path(self.data_dir) / "models"


class ServiceState:
    """Everything the request handlers share, built at startup."""

    def __init__(self, config: ServiceConfig, engine=None):
        self.config = config
        self.started_at = time.time()
        self.wal = DurableLog(config.data_dir, rotate_seconds=config.rotate_seconds)
        self.wal.claim()  # one live writer per WAL: recovery below lands every segment it finds
        self.host = None
        try:
            self._build(config, engine)
        except BaseException:
            if self.host is not None:
                self.host.close()
            self.wal.release_claim()
            raise

    def _build(self, config: ServiceConfig, engine) -> None:
        self.recovered = self.wal.recover()
        if config.scoring_processes and engine is None:
            from fintech_dataops.lib.realtime.scoring_process import ScoringProcesses

            self.host = ScoringProcesses(config.models_dir, count=config.scoring_processes,
                                         max_customers=config.max_customers)
        else:
            self.host = EngineHost(engine if engine is not None else engine_for(config.models_dir),
                                   config.models_dir, max_customers=config.max_customers)
        self.warm = WarmStartReport()
        self.pipeline = DecisionPipeline(self.host, self.wal, Path(config.data_dir) / ALERTS_STREAM_FILE,
                                         heap=HeapKeeper())
        self.batcher = MicroBatcher(self.pipeline.score, commit=self.pipeline.commit,
                                    window_ms=config.batch_window_ms,
                                    max_events=config.max_batch_events, max_queued_events=config.max_queued_events,
                                    initializer=single_threaded_native_code)
        self.limiter = (RateLimiter(config.max_requests_per_second, config.request_burst)
                        if config.max_requests_per_second else None)
        self.acknowledged = AcknowledgedIds(config.remember_ids)
        self.notifier = FraudAlertNotifier(Path(config.data_dir) / "alerts.log", config.slack_webhook_url or "",
                                           config.notify)
        self.pipeline.on_alerts = self.notifier.observe
        self.monitor = MonitorData(Path(config.data_dir) / "landing", config.database,
                                   live_alerts=lambda: self.pipeline.latest_alerts(1000),
                                   reporting_currency=self.host.fx_status["reporting_currency"] or "USD")
        self.ready = False
        self.shed_requests = 0
        self.refused_requests = 0


_NATIVE_LIMITS = []


def single_threaded_native_code() -> None:
    """On the scoring thread: OpenMP/BLAS (the model's predict) run on this thread alone.

    A parallel predict waits for its slowest thread, and on a small machine the other cores
    are busy with the HTTP loop (and, in the benchmark, the load generator): measured here,
    scikit-learn's two-thread predict made model scoring 3-5x slower inside the service than
    alone. One thread costs 6 µs instead of 4 µs a row when idle, and never waits on a busy core.
    """
    from threadpoolctl import threadpool_limits

    _NATIVE_LIMITS.append(threadpool_limits(limits=1))  # per thread for OpenMP; kept for the process life


def _supplied_key(request: Request) -> str:
    supplied = request.headers.get("x-api-key") or ""
    bearer = request.headers.get("authorization") or ""
    if not supplied and bearer.lower().startswith("bearer "):
        supplied = bearer[7:].strip()
    return supplied


def _client_key(request: Request, authenticated: bool) -> str:
    """Who a request counts against: the verified API key (hashed, never kept in clear), else the address.

    Only a key that passed authentication names a client: otherwise anyone could dodge the
    limit by sending a new made-up key with every request.
    """
    if authenticated:
        return "key:" + hashlib.sha256(_supplied_key(request).encode()).hexdigest()[:32]
    return "host:" + (request.client.host if request.client else "unknown")


def _json(payload, status: int = 200) -> Response:
    # orjson directly: the answers are plain dicts/lists, no pydantic model to validate against.
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _error(status: int, message: str, **extra) -> Response:
    return _json({"error": message, **extra}, status)


class _TooLarge(Exception):
    def __init__(self, head: bytes, size: int):
        super().__init__(size)
        self.head, self.size = head, size


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(b"", int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge(b"".join(chunks)[:REFUSED_HEAD_BYTES], size)
        chunks.append(chunk)
    return b"".join(chunks)


async def _refuse(state: ServiceState, request: Request, received_at: datetime, body: bytes, status: int,
                  message: str, *, body_bytes: int | None = None, **extra) -> Response:
    """Answer ``status`` and land the request as ONE refused line (bounded), never as transactions.

    Core quarantines that line with reason ``refused_by_service``: a refused byte stays refused.
    """
    line = refused_line(status=status, error=message, body=body, received_at=received_at,
                        path=request.url.path, errors=len(extra.get("rejected") or [0]),
                        head_bytes=REFUSED_HEAD_BYTES, body_bytes=body_bytes)
    logged = await _submit(state, ScoreJob(rejected=[Rejected(line=line, error=message)], received_at=received_at))
    if isinstance(logged, Response):
        return logged
    state.refused_requests += 1
    return _error(status, message, acknowledged=False, recorded_as=REFUSED_MARKER, **extra)


def create_app(config: ServiceConfig, engine=None, on_ready=None) -> FastAPI:
    """The service; ``engine`` overrides the CURRENT-model engine (tests), ``on_ready`` is called after startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = ServiceState(config, engine)
        app.state.service = state
        if state.recovered:
            log.warning("landed %d WAL segment(s) left by a previous process", len(state.recovered))
        try:
            if config.warm_start:
                state.warm = await asyncio.to_thread(
                    state.host.warm_start, config.database, lookback_seconds=config.warm_start_lookback_seconds,
                    max_rows=config.warm_start_max_rows,
                )
            seeded = await asyncio.to_thread(recently_acknowledged, state.wal.landing_dir, config.remember_ids,
                                             prefix=BATCH_PREFIX)
        except BaseException:  # startup failed: nothing was acknowledged, the WAL is free for a retry
            state.host.close()
            state.wal.release_claim()
            raise
        state.acknowledged.confirm(seeded)  # a resend across a restart is still refused
        state.pipeline.heap.settle()  # the warm-started window state leaves the collector's sight
        gil = GilSlices(None if config.gil_switch_interval_ms is None else config.gil_switch_interval_ms / 1000.0)
        gil.apply()
        state.notifier.start()
        state.wal.start()
        state.batcher.start()
        reloader = asyncio.create_task(_reload_loop(state), name="model-reload")
        state.ready = True
        if on_ready is not None:
            on_ready(state)
        try:
            yield
        finally:
            state.ready = False
            reloader.cancel()
            with suppress(asyncio.CancelledError):
                await reloader
            await state.batcher.drain_and_stop()  # every queued request is answered and logged
            state.wal.close()                     # ... and landed
            state.pipeline.close()
            state.host.close()                    # the scoring process, when there is one
            state.notifier.close()
            state.pipeline.heap.release()
            gil.restore()

    app = FastAPI(title="fintech_dataops fraud decisions", version="1", lifespan=lifespan)

    def authorised(request: Request) -> bool:
        if not config.api_key:
            return True
        return hmac.compare_digest(_supplied_key(request).encode(), config.api_key.encode())

    async def handle(request: Request, *, batch: bool):
        state: ServiceState = request.app.state.service
        allowed = authorised(request)
        if state.limiter is not None:
            client = _client_key(request, authenticated=allowed and bool(config.api_key))
            if not state.limiter.allow(client):
                wait = max(state.limiter.retry_after(client), 0.001)
                response = _error(429, f"more than {config.max_requests_per_second:g} requests per second "
                                       f"(burst {config.request_burst}): slow down and resend",
                                  retry_after_s=round(wait, 3))
                response.headers["Retry-After"] = f"{wait:.3f}"
                return response
        if not allowed:
            return _error(401, "missing or invalid API key (send it in the X-API-Key header)")
        received_at = datetime.now(timezone.utc)
        try:
            body = await _read_body(request, config.max_body_bytes)
        except _TooLarge as exc:
            return await _refuse(state, request, received_at, exc.head,
                                 413, f"request body larger than {config.max_body_bytes:,} bytes: split the batch",
                                 body_bytes=exc.size)
        try:
            records, repeated = read_body(body, batch=batch)
        except MalformedRequest as exc:
            return await _refuse(state, request, received_at, body, 400, str(exc))
        if len(records) > config.max_batch_records:
            return await _refuse(state, request, received_at, body, 413,
                                 f"batch of {len(records):,} transactions exceeds {config.max_batch_records:,}")
        accepted, rejected = classify(records, received_at, repeated)
        if rejected:
            # What the pipeline would quarantine is refused whole: nothing of it is acknowledged.
            message = (f"malformed transaction: {rejected[0].error}" if not batch else
                       f"{len(rejected)} of {len(records)} transaction(s) are malformed: fix them and resend the batch")
            return await _refuse(state, request, received_at, body, 422, message,
                                 rejected=[r.as_json() for r in rejected])
        ids = [a.record["transaction_id"] for a in accepted]
        if resent := state.acknowledged.claim(ids):
            return await _refuse(state, request, received_at, body, 409,
                                 f"transaction_id {resent[0]!r} was already acknowledged: not scored or landed again"
                                 + (f" (and {len(resent) - 1} more)" if len(resent) > 1 else ""),
                                 already_acknowledged=resent[:100])
        decisions = await _submit(state, ScoreJob(accepted=accepted, received_at=received_at))
        if isinstance(decisions, Response):
            state.acknowledged.release(ids)
            return decisions
        state.acknowledged.confirm(ids)
        if not batch:
            return _json(decisions[0])
        return _json({"results": decisions, "rejected": []})

    @app.post("/v1/transactions")
    async def post_transaction(request: Request):
        return await handle(request, batch=False)

    @app.post("/v1/transactions/batch")
    async def post_batch(request: Request):
        return await handle(request, batch=True)

    @app.get("/health")
    async def health(request: Request):
        state: ServiceState = request.app.state.service
        pipeline, wal = state.pipeline, state.wal
        return _json({
            "status": _status(state),
            "model_version": state.host.model_version,
            "model_reloads": state.host.reloads,
            "model_reload_error": state.host.last_reload_error,
            "fx_rates": state.host.fx_status,
            "uptime_s": round(time.time() - state.started_at, 3),
            "decided": pipeline.decided,
            "decisions": pipeline.decision_counts,
            "malformed": pipeline.malformed,
            "alerts": pipeline.alerts,
            "notifications": dict(state.notifier.counts),
            "queued_requests": state.batcher.queued,
            "queued_events": state.batcher.queued_events,
            "shed_requests": state.shed_requests,
            "refused_requests": state.refused_requests,
            "connection_refusals": dict(getattr(request.app.state, "connection_refusals", {})),
            "remembered_ids": len(state.acknowledged),
            "micro_batches": state.batcher.stats.batches,
            "largest_micro_batch": state.batcher.stats.largest_batch,
            "landed_batches": wal.landed_batches,
            "landed_events": wal.landed_events,
            "wal_segments_recovered": len(state.recovered),
            "window_state": state.host.state_size,
            "gc": state.pipeline.heap.stats,
            "micro_batch_phases_ms": state.pipeline.phases.summary(),  # the last 2,000 micro-batches
            "request_scoring_ms": state.batcher.stats.timings_ms(),  # the last 2,000 requests: queued, processing
            "evicted_customers": state.host.evicted_customers,
            "warm_start": {"source": state.warm.source, "transactions": state.warm.transactions_kept,
                           "seconds": round(state.warm.seconds, 3), "error": state.warm.error},
        })

    @app.get("/monitor/alerts")
    async def monitor_alerts(request: Request, limit: int = 100):
        """The latest alerts, newest first, in the live-monitor page's contract."""
        state: ServiceState = request.app.state.service
        limit = max(0, min(limit, 1000))
        alerts = ({**a, "alerted_at": a["decided_at"]} for a in state.pipeline.latest_alerts(limit))
        return _json(alerts_payload(alerts, limit))

    app.include_router(monitor_router(lambda request: request.app.state.service.monitor, config.staff_keys))
    app.include_router(advisor_router(config.data_dir, config.staff_keys,  # the /advisor chat page (lib/advisor/web)
                                      delegated=config.staff_keys.delegated))
    if config.staff_keys.delegated:  # multi-tenant: analysts signed in at /monitor/login reach it there too
        app.include_router(advisor_router(config.data_dir, config.staff_keys, base="/monitor/advisor", delegated=True))
    return app


def _status(state: ServiceState) -> str:
    if not state.ready:
        return "starting"
    process = getattr(state.host, "process_status", None)
    return "scoring_process_down" if process is not None and not process["alive"] else "ok"


async def _submit(state: ServiceState, job: ScoreJob):
    """Score and log ``job``; a 503 response (nothing acknowledged) when that is impossible."""
    try:
        return await state.batcher.submit(job, size=len(job.accepted) + len(job.rejected))
    except Overloaded as exc:
        state.shed_requests += 1
        response = _error(503, f"overloaded, not acknowledged: {exc}; resend after Retry-After", landed=False,
                          retry_after_s=1)
        response.headers["Retry-After"] = "1"
        return response
    except (RuntimeError, OSError) as exc:
        # Shutting down, or the WAL disk failed: nothing was acknowledged, the client must resend.
        log.error("micro-batch not logged: %s", exc)
        return _error(503, f"not acknowledged, resend: {exc}", landed=False)


async def revive_scoring(state: ServiceState) -> int:
    """Replace dead scoring processes (warm-started as at a restart), on the scoring thread; how many."""
    if not getattr(state.host, "needs_revival", False):
        return 0
    config = state.config
    revived = await state.batcher.run_in_worker(
        lambda: state.host.revive(config.database, warm=config.warm_start,
                                  lookback_seconds=config.warm_start_lookback_seconds,
                                  max_rows=config.warm_start_max_rows))
    log.warning("replaced %d dead scoring process(es), windows warm-started from the warehouse", revived)
    return revived


async def _reload_loop(state: ServiceState) -> None:
    """Load a new CURRENT model off the scoring thread, then swap it in between micro-batches; replace
    a dead scoring process."""
    while True:
        await asyncio.sleep(state.config.reload_seconds)
        try:
            await revive_scoring(state)
        except Exception:  # tried again next period; meanwhile requests are answered 503
            log.exception("cannot replace a dead scoring process")
        try:
            version = await asyncio.to_thread(state.host.prepare_reload)
            # A new day of reference rates in core.fx_rates: hot-swapped like a model, between micro-batches.
            rates = await asyncio.to_thread(state.host.prepare_fx_reload, state.config.database)
            if version or rates:
                await state.batcher.run_in_worker(state.host.adopt_pending)
        except Exception:  # never let the reloader die silently: log and try again next period
            log.exception("model reload check failed")
