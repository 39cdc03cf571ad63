"""A throwaway PostgreSQL server from Debian's package: initdb in a temp dir, loopback port, stopped after."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def pg_bin(name: str) -> str | None:
    for folder in PG_BIN_DIRS:
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_postgres() -> Iterator[dict[str, str]]:
    """Yields DAGSTER_PG_* settings of a fresh server. initdb refuses root: as root, the server runs as
    the ``postgres`` user the Debian package creates."""
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    root = Path(tempfile.mkdtemp(prefix="fintech-pg-"))
    data, sockets, password_file = root / "data", root / "sock", root / "pw"
    password = os.urandom(12).hex()
    password_file.write_text(password + "\n")
    sockets.mkdir()
    if as_root:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        shutil.chown(password_file, "postgres")
    port = _free_port()
    run = lambda *cmd: subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True, timeout=120)  # noqa: E731
    run(pg_bin("initdb"), "-D", str(data), "-U", "dagster", "--pwfile", str(password_file), "-A", "scram-sha-256",
        "--no-sync")
    run(pg_bin("pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60", "-o",
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start")
    try:
        env = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(port), "DAGSTER_PG_DB": "postgres",
               "DAGSTER_PG_USER": "dagster", "DAGSTER_PG_PASSWORD": password}
        yield env
    finally:
        subprocess.run([*prefix, pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)
