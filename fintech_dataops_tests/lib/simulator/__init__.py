"""Tests of fintech_dataops/lib/simulator/."""
