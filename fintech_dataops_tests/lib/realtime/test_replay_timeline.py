"""The replay's per-5-s latency timeline (benchmarks: online p50/p95/p99 per 5 s)."""

from fintech_dataops.lib.realtime.replay import _timeline_percentiles


def test_percentiles_per_bucket_with_an_empty_bucket_as_none():
    points = [(100.0 + i * 0.01, float(i)) for i in range(100)]  # 0..99 ms within the first second
    points += [(111.0, 500.0)]                                     # one slow answer in the third bucket
    out = _timeline_percentiles(points, start=100.0, bucket_s=5.0)
    assert out[0] == {"p50": 49.5, "p95": 94.0, "p99": 98.0}
    assert out[1] is None
    assert out[2] == {"p50": 500.0, "p95": 500.0, "p99": 500.0}
    assert _timeline_percentiles([], start=0.0, bucket_s=5.0) == []
