"""Tests of fintech_dataops/lib/quality/."""
