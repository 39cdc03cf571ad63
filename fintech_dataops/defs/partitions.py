import dagster as dg

from fintech_dataops.schemas.vocabulary import FIRST_EVENT_DAY

# Daily partitions in UTC. end_offset=1 includes today, which the near-real-time
# path fills with micro-batches while the day is still open. The first day is the
# one the record validator refuses earlier events against (one place).
PARTITIONS_START = FIRST_EVENT_DAY.isoformat()
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1, timezone="UTC")

# Writers share one pool: DuckDB allows one writing process per file at a time.
WAREHOUSE_WRITE_POOL = "warehouse_write"
