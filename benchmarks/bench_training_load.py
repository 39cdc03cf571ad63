"""Fraud model training on a busy machine: idle vs a concurrent CPU hog, threads uncapped vs sized.

Issue 19: in one ``make run`` on a machine whose cores another process kept busy, ``fraud__model``
took 280 s instead of 5 s — OpenMP (gradient boosting) and BLAS start one thread per CPU and spin
at every barrier while a thread waits to be scheduled. ``lib/cpu_budget`` sizes the pools to the
CPUs the process may use (cgroup quota) shared by the steps the executor runs at once.

Measured here, on one feature frame (computed once, not timed), the same ``train_model`` call:

- ``uncapped``: the libraries' default (one thread per CPU of the machine);
- ``sized``: ``thread_budget(executor_concurrency)`` for a ``make run`` step (the multiprocess
  executor runs one step per CPU → 1 thread on 2 CPUs);

each idle and with a hog — one busy-looping process per available CPU, started before and
killed after the timed fits. Peer of every hog figure: the same configuration idle, in the same
run. Goal: sized training under the hog within 2× of idle.

Second peer, the scheduler's floor: a single-threaded pure-Python loop of fixed work timed idle
and under the same hog. With one busy process per CPU, a fair scheduler gives a single thread
about ``cpus / (cpus + 1)`` of a CPU (1.5× slower on 2 CPUs), more with other load on the
machine; the training ratio can only be judged against that floor, measured in the same run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time


def _hog(processes: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]


def _stop(hogs: list[subprocess.Popen]) -> None:
    for proc in hogs:
        proc.kill()
    for proc in hogs:
        proc.wait()


def _python_work(n: int = 6_000_000) -> float:
    """Fixed single-threaded CPU work (no I/O, no native threads): seconds taken."""
    t0 = time.perf_counter()
    total = 0
    for i in range(n):
        total += i & 7
    return time.perf_counter() - t0


def _features(customers: int):
    from benchmarks.bench_fraud import _simulate
    from fintech_dataops.lib.fraud.engine import FraudEngine

    tx, labels, truth, _ = _simulate(customers, days=30, seed=11)
    features = FraudEngine().features(tx, labels=labels)
    y = features["transaction_id"].isin(truth.loc[truth["is_fraud"], "transaction_id"]).to_numpy()
    return features, y


def run(quick: bool = False) -> dict:
    from fintech_dataops.lib.cpu_budget import available_cpus, cgroup_cpu_limit, executor_concurrency, thread_budget
    from fintech_dataops.lib.fraud.model import ModelConfig, train_model

    cpus = available_cpus()
    sized = thread_budget(executor_concurrency({}, "multi_or_in_process_executor", cpus=cpus), cpus=cpus)
    features, y = _features(600 if quick else 2000)
    repeats = 1 if quick else 2
    # uncapped: what OpenMP/BLAS start by default, one thread per CPU of the machine.
    configs = {"uncapped": os.cpu_count() or cpus, "sized": sized}

    def fit_seconds(threads: int) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            train_model(features, y, config=ModelConfig(threads=threads))
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    train_model(features, y, config=ModelConfig(threads=sized))  # warm-up: imports, first-touch memory
    result: dict = {"rows": int(len(features)), "cpus_available": cpus, "cgroup_cpu_quota": cgroup_cpu_limit(),
                    "sized_threads": sized, "hog_processes": cpus, "repeats": repeats,
                    "load_average_before": os.getloadavg()[0]}
    for name, threads in configs.items():
        idle = fit_seconds(threads)
        hogs = _hog(cpus)
        try:
            time.sleep(0.5)  # let the hog reach full speed
            busy = fit_seconds(threads)
        finally:
            _stop(hogs)
        result[name] = {"threads": threads, "idle_seconds": round(idle, 2),
                        "hog_seconds": round(busy, 2), "ratio_hog_vs_idle": round(busy / idle, 2)}
    idle_floor = statistics.median(_python_work() for _ in range(3))
    hogs = _hog(cpus)
    try:
        time.sleep(0.5)
        busy_floor = statistics.median(_python_work() for _ in range(3))
    finally:
        _stop(hogs)
    result["peer_single_thread_python"] = {"idle_seconds": round(idle_floor, 2), "hog_seconds": round(busy_floor, 2),
                                           "ratio_hog_vs_idle": round(busy_floor / idle_floor, 2)}
    result["sized_within_2x_of_idle"] = result["sized"]["ratio_hog_vs_idle"] <= 2.0
    result["sized_ratio_over_scheduler_floor"] = round(result["sized"]["ratio_hog_vs_idle"]
                                                       / result["peer_single_thread_python"]["ratio_hog_vs_idle"], 2)
    result["ratio_uncapped_hog_vs_sized_hog"] = round(result["uncapped"]["hog_seconds"]
                                                      / result["sized"]["hog_seconds"], 2)
    result["load_average_after"] = os.getloadavg()[0]
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
