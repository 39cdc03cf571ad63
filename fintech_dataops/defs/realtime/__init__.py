import dagster as dg

from fintech_dataops.defs.realtime.assets import realtime_fraud_batch, realtime_fraud_job
from fintech_dataops.defs.realtime.sensors import realtime_batch_sensor

defs = dg.Definitions(assets=[realtime_fraud_batch], jobs=[realtime_fraud_job], sensors=[realtime_batch_sensor])
