"""Tests of fintech_dataops/lib/analytics/."""
