"""Tests of fintech_dataops/lib/self_service/."""
