import dagster as dg

# Daily partitions in UTC. end_offset=1 includes today, which the near-real-time
# path fills with micro-batches while the day is still open.
PARTITIONS_START = "2025-01-01"
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1, timezone="UTC")

# Writers share one pool: DuckDB allows one writing process per file at a time.
WAREHOUSE_WRITE_POOL = "warehouse_write"
