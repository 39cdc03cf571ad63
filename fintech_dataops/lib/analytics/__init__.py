"""Analytics: KPIs, marts and the run summary printed after a pipeline run."""
