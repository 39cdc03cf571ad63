"""Online service: warm-started customers vs fresh ones at 10k EPS, on one service (issue 19 follow-up).

``python -m benchmarks.realtime_warm_cold [--spy] [--data-dir DIR]``: builds the production-like data
dir of ``bench_realtime`` (50k customers, 14 days; kept in DIR for reruns when given), starts one
warm-started service with the model, a 5 s warm-up with fresh customer ids, then four 10 s passes at
10k EPS: the replay day's real customers (their history is in the warm start), the same records with
fresh customer ids, and both again. Prints one JSON line per pass: p50/p99/max and the service's CPU
per event. ``--spy``: a py-spy profile (raw, collapsed stacks) of the first two passes into
``/tmp/warm_cold_<pass>.txt`` (py-spy is not a dependency: ``pip install py-spy``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.bench_realtime import _cpu_seconds, _start_service, _stop, _summary, production_like_data_dir
from fintech_dataops.lib.realtime.replay import ReplayConfig, replay


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spy", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="warm-cold-"))
    data_dir, saved = root / "data", root / "records.json"
    if not saved.exists():
        saved.write_text(json.dumps(production_like_data_dir(data_dir, customers=50_000, history_days=14)["records"],
                                    default=str))
    records = json.loads(saved.read_text())
    fresh = [{**r, "customer_id": r["customer_id"] + "-fresh"} for r in records]
    spy = shutil.which("py-spy") if args.spy else None
    process, url, _ = _start_service(data_dir, warm_start=True)
    try:
        replay(ReplayConfig(url=url, eps=10_000, seconds=5, batch_size=100), fresh)  # warm-up, not counted
        for label, batch in (("warm", records), ("fresh", fresh), ("warm_again", records), ("fresh_again", fresh)):
            profiler = None
            if spy and label in ("warm", "fresh"):
                profiler = subprocess.Popen([spy, "record", "-p", str(process.pid), "-d", "9", "-r", "100", "-f", "raw",
                                             "-o", f"/tmp/warm_cold_{label}.txt"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            before = _cpu_seconds(process.pid)
            result = _summary(replay(ReplayConfig(url=url, eps=10_000, seconds=10, batch_size=100), batch))
            after = _cpu_seconds(process.pid)
            if profiler:
                profiler.wait()
            print(json.dumps({"pass": label, "load_average": round(os.getloadavg()[0], 2),
                              "sustained_eps": result["sustained_eps"], **{k: result["latency_ms"][k]
                                                                          for k in ("p50", "p99", "max")},
                              "service_cpu_us_per_event": round((after - before) * 1e6 / result["acknowledged_events"], 1)
                              if before is not None and after is not None else None}), flush=True)
    finally:
        _stop(process)
        if args.data_dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
