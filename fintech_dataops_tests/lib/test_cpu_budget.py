"""Threads sized to the CPU available: cgroup quota parsing (v1, v2), executor concurrency, the cap."""

import pytest

from fintech_dataops.lib.cpu_budget import (
    available_cpus,
    cgroup_cpu_limit,
    cpu_threads,
    executor_concurrency,
    parse_cfs,
    parse_cpu_max,
    thread_budget,
)


@pytest.mark.parametrize("text, cpus", [
    ("max 100000", None), ("200000 100000", 2.0), ("150000 100000", 1.5), ("50000", 0.5),
    ("", None), (None, None), ("garbage 100000", None), ("0 100000", None), ("-1 100000", None),
])
def test_cgroup_v2_cpu_max(text, cpus):
    assert parse_cpu_max(text) == cpus


@pytest.mark.parametrize("quota, period, cpus", [
    ("-1", "100000", None), ("100000", "100000", 1.0), ("250000", "100000", 2.5), ("50000", "", 0.5),
    (None, None, None), ("x", "100000", None),
])
def test_cgroup_v1_cfs(quota, period, cpus):
    assert parse_cfs(quota, period) == cpus


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def test_v2_reads_the_process_cgroup_and_the_tightest_ancestor(tmp_path):
    root = tmp_path / "cgroup"
    _write(root / "cgroup.controllers", "cpuset cpu io memory pids")
    _write(root / "cpu.max", "max 100000")
    _write(root / "kubepods" / "cpu.max", "300000 100000")
    _write(root / "kubepods" / "pod1" / "cpu.max", "max 100000")
    proc = tmp_path / "proc_cgroup"
    _write(proc, "0::/kubepods/pod1")
    assert cgroup_cpu_limit(root, proc) == 3.0
    _write(root / "kubepods" / "pod1" / "cpu.max", "150000 100000")
    assert cgroup_cpu_limit(root, proc) == 1.5


def test_v2_in_a_cgroup_namespace_reads_the_root(tmp_path):
    root = tmp_path / "cgroup"
    _write(root / "cgroup.controllers", "cpu")
    _write(root / "cpu.max", "100000 100000")
    proc = tmp_path / "proc_cgroup"
    _write(proc, "0::/")
    assert cgroup_cpu_limit(root, proc) == 1.0


def test_v1_cpu_controller(tmp_path):
    root = tmp_path / "cgroup"
    base = root / "cpu,cpuacct"
    _write(base / "cpu.cfs_quota_us", "-1")
    _write(base / "cpu.cfs_period_us", "100000")
    _write(base / "docker" / "abc" / "cpu.cfs_quota_us", "50000")
    _write(base / "docker" / "abc" / "cpu.cfs_period_us", "100000")
    proc = tmp_path / "proc_cgroup"
    _write(proc, "12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc")
    assert cgroup_cpu_limit(root, proc) == 0.5


def test_no_limit_anywhere(tmp_path):
    root = tmp_path / "cgroup"
    _write(root / "cpu" / "cpu.cfs_quota_us", "-1")
    proc = tmp_path / "proc_cgroup"
    _write(proc, "4:cpu,cpuacct:/")
    assert cgroup_cpu_limit(root, proc) is None
    assert cgroup_cpu_limit(tmp_path / "missing", tmp_path / "missing_proc") is None


def test_available_cpus_is_the_smaller_of_affinity_and_quota_rounded_up():
    assert available_cpus(quota=None, affinity=8) == 8
    assert available_cpus(quota=1.5, affinity=8) == 2
    assert available_cpus(quota=0.2, affinity=8) == 1
    assert available_cpus(quota=16.0, affinity=4) == 4
    assert available_cpus() >= 1  # the live machine


def test_executor_concurrency_from_run_config():
    assert executor_concurrency({}, "multi_or_in_process_executor", cpus=4) == 4
    assert executor_concurrency({"execution": {"config": {"in_process": {}}}}, None, cpus=4) == 1
    assert executor_concurrency({"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}, None, cpus=8) == 2
    assert executor_concurrency({"execution": {"config": {"max_concurrent": 3}}}, "multiprocess", cpus=8) == 3
    assert executor_concurrency({"execution": {"config": {"multiprocess": {"max_concurrent": 0}}}}, None, cpus=6) == 6
    assert executor_concurrency({}, "in_process", cpus=8) == 1


def test_thread_budget_shares_the_cpus_among_concurrent_steps():
    assert thread_budget(1, cpus=2) == 2
    assert thread_budget(2, cpus=2) == 1
    assert thread_budget(3, cpus=2) == 1  # never 0
    assert thread_budget(2, cpus=8) == 4


def test_cpu_threads_caps_openmp_and_blas_inside_the_block():
    import numpy  # noqa: F401  (loads BLAS)
    import sklearn.ensemble  # noqa: F401  (loads OpenMP)
    from threadpoolctl import threadpool_info

    with cpu_threads(1) as threads:
        assert threads == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())


def test_cpu_threads_caps_openmp_loaded_inside_the_block(tmp_path):
    """A fresh process (a Dagster step's first fit) imports scikit-learn inside the block: the
    OpenMP pool must still be capped (threadpoolctl only limits libraries already loaded)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "assert 'sklearn' not in sys.modules\n"
        "from fintech_dataops.lib.cpu_budget import cpu_threads\n"
        "with cpu_threads(1):\n"
        "    from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: F401\n"
        "    from threadpoolctl import threadpool_info\n"
        "    pools = threadpool_info()\n"
        "assert any(p['user_api'] == 'openmp' for p in pools), pools\n"
        "print(max(p['num_threads'] for p in pools))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
