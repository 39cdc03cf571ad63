"""Threads sized to the CPU this process may actually use (issue 19 item 3).

scikit-learn's gradient boosting and forests run OpenMP, NumPy runs BLAS, and both start one
thread per CPU the machine *has*. In a container with a CPU quota, or a Dagster run whose
multiprocess executor runs several steps side by side, that is more threads than CPUs: a thread
that is descheduled holds up every barrier of an OpenMP loop, and a 5 s fit took 280 s on a busy
machine. Here:

- :func:`cgroup_cpu_limit` reads the CPU quota of the process's cgroup (v2 ``cpu.max``, v1
  ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, the tightest of the cgroup and its ancestors);
- :func:`available_cpus` is the smaller of that quota and the CPUs the process may run on;
- :func:`executor_concurrency` is how many steps a Dagster run executes at once (from its run
  config: ``in_process`` → 1, ``multiprocess.max_concurrent``, default one per CPU);
- :func:`thread_budget` shares the available CPUs among those steps (at least 1 thread);
- :func:`cpu_threads` caps OpenMP and BLAS pools (``threadpoolctl``) for a block of code.

No Dagster import: ``defs/`` passes the run config in.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def parse_cpu_max(text: str | None) -> float | None:
    """cgroup v2 ``cpu.max`` ("QUOTA PERIOD" or "max PERIOD") → CPUs (None: no limit or unreadable)."""
    if not text:
        return None
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    try:
        quota = int(parts[0])
        period = int(parts[1]) if len(parts) > 1 else 100_000
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def parse_cfs(quota_text: str | None, period_text: str | None) -> float | None:
    """cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` → CPUs (quota -1: no limit)."""
    try:
        quota = int(quota_text) if quota_text else -1
        period = int(period_text) if period_text else 100_000
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _cgroup_paths(proc_cgroup_text: str | None) -> tuple[str | None, str | None]:
    """(v2 path, v1 cpu-controller path) of this process from ``/proc/self/cgroup``."""
    v2 = v1 = None
    for line in (proc_cgroup_text or "").splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        hierarchy, controllers, path = fields
        if hierarchy == "0" and controllers == "":
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = path
    return v2, v1


def _ancestors(base: Path, relative: str | None) -> list[Path]:
    """``base/relative`` and each parent up to ``base`` (a limit anywhere above applies too)."""
    dirs = [base]
    parts = [p for p in (relative or "").split("/") if p]
    for i in range(1, len(parts) + 1):
        dirs.append(base.joinpath(*parts[:i]))
    return dirs


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (e.g. 1.5), None when there is none.

    Reads cgroup v2 (unified, ``cpu.max``) and v1 (``cpu/`` or ``cpu,cpuacct/``,
    ``cpu.cfs_quota_us``); the tightest limit of the cgroup and its ancestors wins. In a
    container with its own cgroup namespace the process's path is ``/``: the root's files are
    the container's limit.
    """
    v2_path, v1_path = _cgroup_paths(_read(proc_cgroup))
    limits: list[float] = []
    for directory in _ancestors(root, v2_path) if (root / "cgroup.controllers").exists() else []:
        limit = parse_cpu_max(_read(directory / "cpu.max"))
        if limit is not None:
            limits.append(limit)
    for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        base = root / mount
        if not base.is_dir():
            continue
        for directory in _ancestors(base, v1_path):
            limit = parse_cfs(_read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us"))
            if limit is not None:
                limits.append(limit)
        break
    return min(limits) if limits else None


def available_cpus(quota: float | None = None, affinity: int | None = None) -> int:
    """CPUs this process can use: the CPUs it may run on, capped by the cgroup quota (rounded up, ≥ 1).

    ``quota``/``affinity`` default to the live values (tests pass their own).
    """
    if affinity is None:
        try:
            affinity = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            affinity = os.cpu_count() or 1
    if quota is None:
        quota = cgroup_cpu_limit()
    cpus = affinity if quota is None else min(affinity, math.ceil(quota))
    return max(1, int(cpus))


def executor_concurrency(run_config: Mapping | None, executor_name: str | None = None,
                         cpus: int | None = None) -> int:
    """How many steps a Dagster run executes at once, from its run config and executor name.

    ``in_process`` → 1; a multiprocess executor → ``max_concurrent`` when set (> 0), otherwise one
    step per CPU (Dagster's default is ``multiprocessing.cpu_count()``; the quota-aware count is
    used here, never more).
    """
    cpus = available_cpus() if cpus is None else cpus
    if executor_name in ("in_process", "in_process_executor"):
        return 1
    execution = (run_config or {}).get("execution") or {}
    config = execution.get("config") or {}
    if "in_process" in config:
        return 1
    settings = config.get("multiprocess", config) or {}
    try:
        limit = int(settings.get("max_concurrent") or 0)
    except (TypeError, ValueError):
        limit = 0
    return max(1, limit if limit > 0 else cpus)


def thread_budget(concurrent_steps: int = 1, cpus: int | None = None) -> int:
    """Threads one step may use: the available CPUs shared by the steps running at once (≥ 1)."""
    cpus = available_cpus() if cpus is None else cpus
    return max(1, cpus // max(1, concurrent_steps))


def load_thread_pools() -> None:
    """Load the native libraries that own thread pools (NumPy's BLAS, scikit-learn's OpenMP runtime).

    ``threadpoolctl`` can only limit a pool whose library is already loaded: a fit that imported
    scikit-learn *inside* the limited block (the first fit of a fresh Dagster step process) ran
    OpenMP with one thread per CPU of the machine, whatever the budget said.
    """
    import numpy  # noqa: F401  (BLAS)

    try:
        import sklearn.utils._openmp_helpers  # noqa: F401  (the OpenMP runtime scikit-learn's estimators use)
    except ImportError:  # scikit-learn not installed: no OpenMP pool to cap
        pass


@contextmanager
def cpu_threads(threads: int | None = None) -> Iterator[int]:
    """Cap OpenMP and BLAS thread pools at ``threads`` (default: :func:`thread_budget`) inside the block.

    The pools' libraries are loaded first (:func:`load_thread_pools`), so the cap also holds for
    code that imports scikit-learn inside the block.
    """
    from threadpoolctl import threadpool_limits

    threads = thread_budget() if threads is None else max(1, int(threads))
    load_thread_pools()
    with threadpool_limits(limits=threads):
        yield threads
