"""The production-like online benchmark's warehouse holds the reference rates a running platform has,
so payments abroad on every replayed day convert instead of falling to ``fx_rate_missing``."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np

from benchmarks.bench_realtime import _reference_rates
from fintech_dataops.lib.money.fx import FxRates


def test_the_bench_rates_cover_every_replayed_day_and_load_as_core_fx_rates():
    first = date.today() - timedelta(days=40)
    con = duckdb.connect()
    con.register("r", _reference_rates(first, 40, seed=7))
    con.execute("""CREATE SCHEMA core; CREATE TABLE core.fx_rates AS SELECT rate_id, CAST(rate_date AS DATE) AS rate_date,
                   base_currency, currency, CAST(rate AS DECIMAL(18, 8)) AS rate, source,
                   CAST(rate_date AS DATE) AS partition_date, 'bench' AS source_file,
                   row_number() OVER () AS line_number FROM r""")
    assert con.execute("SELECT typeof(rate) FROM core.fx_rates LIMIT 1").fetchone()[0] == "DECIMAL(18,8)"
    fx = FxRates.from_warehouse(con)
    days = np.array([(first + timedelta(days=i) - date(1970, 1, 1)).days for i in range(40)])
    for code in ("JPY", "BHD", "USD"):  # the demo's currencies abroad and the reporting one
        assert np.isfinite(fx._leg(code, days)).all(), code
