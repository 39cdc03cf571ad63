"""The monitor served alone (``fintech-dataops monitor``): FastAPI on uvicorn, loopback only.

Prints one JSON line ``{"event": "ready", "url": ...}`` once listening; SIGTERM/SIGINT stop it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from fastapi import FastAPI

from fintech_dataops.lib.monitor.queue import MonitorData
from fintech_dataops.lib.monitor.router import monitor_router
from fintech_dataops.lib.monitor.staff import StaffKeys
from fintech_dataops.lib.serving import bind_loopback, run_uvicorn


def create_monitor_app(data_dir: Path, staff: StaffKeys) -> FastAPI:
    data = MonitorData(Path(data_dir) / "landing", Path(data_dir) / "warehouse.duckdb")
    app = FastAPI(title="fintech_dataops fraud monitor", version="1")
    app.include_router(monitor_router(data, staff))
    return app


def serve_monitor(data_dir: Path, staff: StaffKeys, *, host: str = "127.0.0.1", port: int = 8700, out=sys.stdout) -> int:
    import uvicorn

    sock = bind_loopback(host, port)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_monitor_app(data_dir, staff), log_level="warning",
                                           access_log=False, lifespan="off", server_header=False))
    out.write(orjson.dumps({"event": "ready", "url": f"http://{host}:{bound}/monitor", "port": bound}).decode() + "\n")
    out.flush()
    run_uvicorn(server, [sock])
    out.write(orjson.dumps({"event": "stopped", "port": bound}).decode() + "\n")
    out.flush()
    return 0
