"""Run every benchmark: ``python -m benchmarks [--quick] [--only NAME ...]``.

Each ``benchmarks/bench_<topic>.py`` exposes ``run(quick: bool) -> dict``. The
results, with the machine they ran on, are printed as JSON and written to
``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path


def machine() -> dict:
    mem_gib = None
    try:
        with open("/proc/meminfo") as handle:
            mem_gib = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(), "memory_gib": mem_gib, "cpu_model": cpu,
        "python": platform.python_version(), "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", nargs="*", default=None, help="benchmark names (e.g. raw_load)")
    args = parser.parse_args(argv)
    here = Path(__file__).parent
    names = sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n in args.only]
    results = {"machine": machine(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "benchmarks": {}}
    for name in names:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            results["benchmarks"][name] = importlib.import_module(f"benchmarks.bench_{name}").run(quick=args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others
            results["benchmarks"][name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"[bench] {name} done in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    out_dir = here / "results"
    out_dir.mkdir(exist_ok=True)
    text = json.dumps(results, indent=2, default=str)
    (out_dir / "latest.json").write_text(text + "\n")
    print(text)
    return 0 if all("error" not in r for r in results["benchmarks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
