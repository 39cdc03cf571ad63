"""The scorable-population record: traditional vs enhanced scorability and the uplift.

``credit.scorable_population`` keeps one row per materialization (a rerun of
the same run replaces its row), so the uplift can be followed over time.

- ``uplift_pct`` = 100 × (enhanced − traditional) / traditional — the issue's
  "increase the scorable population by 20 %" (relative growth);
- ``uplift_pct_points`` = 100 × (enhanced − traditional) / customers — the
  same gain as a share of all customers (what ``kpis.scorable_uplift`` reports).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from fintech_dataops.lib.warehouse import ensure_schema, qualified, transaction

TABLE = "credit.scorable_population"
UPLIFT_GOAL_PCT = 20.0

_COLUMNS = """
    run_id VARCHAR, measured_at TIMESTAMP, model_version VARCHAR, customers BIGINT, scored BIGINT,
    scorable_traditional BIGINT, scorable_enhanced BIGINT, newly_scorable BIGINT,
    scorable_traditional_pct DOUBLE, scorable_enhanced_pct DOUBLE, uplift_pct DOUBLE,
    uplift_pct_points DOUBLE, uplift_goal_pct DOUBLE, goal_met BOOLEAN
"""

_SELECT = f"""
    SELECT ?::VARCHAR AS run_id, ?::TIMESTAMP AS measured_at, any_value(model_version) AS model_version,
           count(*) AS customers, count(score) AS scored,
           count(*) FILTER (WHERE scorable_traditional) AS scorable_traditional,
           count(*) FILTER (WHERE scorable_enhanced) AS scorable_enhanced,
           count(*) FILTER (WHERE scorable_enhanced AND NOT scorable_traditional) AS newly_scorable,
           round(100.0 * count(*) FILTER (WHERE scorable_traditional) / nullif(count(*), 0), 2)
               AS scorable_traditional_pct,
           round(100.0 * count(*) FILTER (WHERE scorable_enhanced) / nullif(count(*), 0), 2)
               AS scorable_enhanced_pct,
           round(100.0 * (count(*) FILTER (WHERE scorable_enhanced) - count(*) FILTER (WHERE scorable_traditional))
                 / nullif(count(*) FILTER (WHERE scorable_traditional), 0), 2) AS uplift_pct,
           round(100.0 * (count(*) FILTER (WHERE scorable_enhanced) - count(*) FILTER (WHERE scorable_traditional))
                 / nullif(count(*), 0), 2) AS uplift_pct_points,
           {UPLIFT_GOAL_PCT}::DOUBLE AS uplift_goal_pct,
           coalesce(uplift_pct >= {UPLIFT_GOAL_PCT}, false) AS goal_met
    FROM credit.scores
"""


def record_scorable_population(con: duckdb.DuckDBPyConnection, run_id: str, measured_at: dt.datetime) -> dict:
    """Append this run's row to ``credit.scorable_population`` (atomically) and return it."""
    with transaction(con):
        ensure_schema(con, TABLE)
        con.execute(f"CREATE TABLE IF NOT EXISTS {qualified(TABLE)} ({_COLUMNS})")
        con.execute(f"DELETE FROM {qualified(TABLE)} WHERE run_id = ?", [run_id])
        con.execute(f"INSERT INTO {qualified(TABLE)} BY NAME {_SELECT}", [run_id, measured_at])
        cursor = con.execute(f"SELECT * FROM {qualified(TABLE)} WHERE run_id = ?", [run_id])
        names = [d[0] for d in cursor.description]
        row = dict(zip(names, cursor.fetchall()[0]))
    return row
