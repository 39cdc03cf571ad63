"""Tests of fintech_dataops.lib.quality.core_gate."""
