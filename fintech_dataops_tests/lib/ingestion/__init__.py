"""Tests of fintech_dataops/lib/ingestion/."""
