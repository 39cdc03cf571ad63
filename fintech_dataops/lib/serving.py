"""How long-running processes stop, and the guarded HTTP protocol the loopback servers run on.

Stopping. Every long-running command stops gracefully on **SIGTERM** (what
Kubernetes, systemd and CI send) exactly as on **SIGINT** (Ctrl-C). Both
dispositions are installed explicitly at start-up, never inherited: a process
started by a parent that ignores SIGINT (a non-interactive shell's background
job, some CI runners and test harnesses) still stops on either signal. SIGTERM
does whatever SIGINT does at that moment: raise ``KeyboardInterrupt`` in the
main thread (``finally`` blocks flush and close), or, inside a Dagster run,
Dagster's own interrupt handling, which records the run as failed instead of
leaving it "started" forever.

Servers. ``run_uvicorn`` runs a ``uvicorn.Server`` in the main thread so that
either signal starts its graceful shutdown (stop accepting, finish in-flight
requests, run the lifespan shutdown) and the process then exits 0.
``guarded_h11_protocol`` is uvicorn's h11 protocol with what a service taking
payments data needs at the connection level: a deadline for reading each
request (headers and body: slow or stalled clients are cut off) and a count of
every request refused before it reaches the application (malformed HTTP such as
``Content-Length: abc`` or ``-1``, oversized headers, timeouts).
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

_last_stop_signal: int | None = None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interrupt: code that shrugs off a Ctrl-C to keep going (an interactive
    prompt clearing its line) must let this one through."""


def _terminate_like_interrupt(signum, frame) -> None:
    global _last_stop_signal
    _last_stop_signal = signum
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler) and handler not in (_interrupt, signal.default_int_handler):
        handler(signal.SIGINT, frame)  # e.g. Dagster's interrupt capture: the run ends as interrupted
        return
    raise Terminated


def _interrupt(signum, frame) -> None:
    global _last_stop_signal
    _last_stop_signal = signum
    raise KeyboardInterrupt


@contextmanager
def stop_handlers():
    """SIGINT and SIGTERM both interrupt the main thread, whatever dispositions the parent left us.

    The previous handlers come back on exit (the CLI's ``main`` also runs inside test processes).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, _interrupt),
                signal.SIGTERM: signal.signal(signal.SIGTERM, _terminate_like_interrupt)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def insist_on_interrupts(period: float = 2.0):
    """Within the block, once SIGINT or SIGTERM arrives, SIGINT is re-delivered every ``period`` seconds.

    For work that installs its own interrupt handlers (a Dagster run in this process maps SIGTERM to
    its SIGINT handling): an interrupt that lands inside a C extension can come back as an ordinary
    error that some code handles and moves on from (DuckDB turns it into ``InterruptException``).
    Re-delivering makes the stop request stick: the run ends at the latest at its next step. The
    signal is observed through ``signal.set_wakeup_fd``, which sees it whoever's Python handler runs.
    """
    import os
    import select

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    done = threading.Event()
    lock = threading.Lock()

    def watch() -> None:
        while not done.is_set():
            ready, _, _ = select.select([read_fd], [], [], 0.5)
            if not ready:
                continue
            received = set(os.read(read_fd, 1024))
            if received & {int(signal.SIGINT), int(signal.SIGTERM)}:
                while not done.wait(period):
                    with lock:
                        if not done.is_set():
                            os.kill(os.getpid(), signal.SIGINT)
                return

    watcher = threading.Thread(target=watch, name="insist-on-interrupts", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        with lock:
            done.set()
        watcher.join(5)
        signal.set_wakeup_fd(previous_fd)
        os.close(read_fd)
        os.close(write_fd)


def interrupted_exit_code() -> int:
    """128 + the signal that stopped a batch command (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + int(_last_stop_signal or signal.SIGINT)


@contextmanager
def stop_requested_by_signals(stop: threading.Event):
    """Within the block, SIGINT/SIGTERM set ``stop`` (the work then winds down itself) instead of raising."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def request_stop(signum, frame) -> None:
        global _last_stop_signal
        _last_stop_signal = signum
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def bind_loopback(host: str, port: int) -> socket.socket:
    """A listening socket on a loopback address (``port`` 0: any free port).

    Listening from here on, so a client that connects before the server loop runs waits in the
    backlog instead of being refused.
    """
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"this server binds loopback only (127.0.0.1), not {host!r}")
    family = socket.AF_INET6 if host == "::1" else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_uvicorn(server, sockets: list[socket.socket]) -> None:
    """``server.run`` in the main thread; SIGINT/SIGTERM shut it down gracefully and the call returns.

    uvicorn installs its own handlers for both signals while it serves, and once it has stopped
    re-raises the signal it received under the handlers that were there before. The handlers in
    place around the call only ask the server to stop: a signal that arrives while it is still
    starting is not lost, and the re-raise after a graceful stop is not an exception.
    """
    if threading.current_thread() is not threading.main_thread():
        server.run(sockets=sockets)
        return

    def request_stop(signum, frame) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, request_stop) for sig in STOP_SIGNALS}
    try:
        server.run(sockets=sockets)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class ReadDeadline:
    """Mixin for a uvicorn HTTP protocol: from its connection (or the first byte of its next request on a
    kept-alive connection) a client has ``read_timeout`` seconds to send a complete request; past it the
    connection is closed and refused as ``timeout``. Subclasses set ``read_timeout`` and ``_refused``,
    and arm / disarm the deadline where their parser sees a request start and end."""

    read_timeout: float = 30.0
    _deadline = None

    def _refused(self, reason: str) -> None:
        """Report a refusal (the factories route it to their ``on_refused``)."""

    def _request_unread(self) -> bool:
        """Whether the request is still being read when the deadline fires (a parser may know better)."""
        return True

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.read_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing() and self._request_unread():
            self._refused("timeout")
            self.transport.close()


def guarded_h11_protocol(*, request_timeout: float, on_refused: Callable[[str], None] = lambda reason: None):
    """uvicorn's h11 protocol with a per-request read deadline and a count of protocol-level refusals.

    ``request_timeout``: seconds a client has, from its connection (or the first byte of its next
    request on a kept-alive connection), to send a complete request, headers and body. Past it the
    connection is closed (``on_refused("timeout")``). Requests uvicorn answers 400 itself before the
    application sees them (unparseable request line, invalid or negative ``Content-Length``,
    oversized headers) are reported as ``on_refused("malformed_http")``.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    request_read = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)

    class GuardedH11Protocol(ReadDeadline, H11Protocol):
        read_timeout = request_timeout

        def _refused(self, reason: str) -> None:
            on_refused(reason)

        def _request_unread(self) -> bool:
            return self.conn.their_state not in request_read

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._deadline = None
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._deadline is None and self.conn.their_state is h11.IDLE:
                self._arm()  # the first byte of the next request on a kept-alive connection
            super().data_received(data)
            if self._deadline is not None and self.conn.their_state in request_read:
                self._disarm()

        def send_400_response(self, msg: str) -> None:
            on_refused("malformed_http")
            super().send_400_response(msg)

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedH11Protocol
