"""The code location: ``dagster dev -m fintech_dataops.definitions``."""

from fintech_dataops.defs import build_defs

defs = build_defs()
