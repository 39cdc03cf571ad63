"""Start CLI processes the way an operator's supervisor would, with signal dispositions set explicitly.

A child inherits ignored signals from its parent (POSIX): under a non-interactive shell's background job or
some CI runners, SIGINT is ignored in everything pytest starts. Tests never depend on that: each child gets
default dispositions explicitly, or SIGINT deliberately ignored to prove SIGTERM alone stops it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def default_dispositions() -> None:
    """``preexec_fn``: SIGINT and SIGTERM back to their defaults in the child, whatever pytest inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def sigint_ignored() -> None:
    """``preexec_fn``: the child starts with SIGINT ignored, as under a shell's background job."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start_cli(*args: str, env: dict[str, str] | None = None, ignore_sigint: bool = False,
              **popen) -> subprocess.Popen:
    """``python -m fintech_dataops.cli ARGS`` with explicit dispositions, text stdout, stderr merged unless given."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.STDOUT)
    return subprocess.Popen(
        [sys.executable, "-m", "fintech_dataops.cli", *args], cwd=ROOT, env=full_env, text=True,
        restore_signals=True, preexec_fn=sigint_ignored if ignore_sigint else default_dispositions, **popen,
    )


@contextlib.contextmanager
def asgi_on_loopback(app, *, lifespan: str = "off", start_loops: int = 500, join_seconds: float = 30):
    """Serve an ASGI app with uvicorn on 127.0.0.1 (ephemeral port) in a thread; yields its base URL."""
    import threading

    import uvicorn

    from fintech_dataops.lib.serving import bind_loopback

    sock = bind_loopback("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(start_loops):  # until uvicorn says it is serving (the socket already listens)
            if server.started:
                break
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=join_seconds)
        sock.close()
