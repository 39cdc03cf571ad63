"""Ledger domain: double-entry ledger (ledger.entries/postings/accounts) and on-chain settlement (ledger.batches)."""

import dagster as dg

from fintech_dataops.defs.ledger.assets import ledger_assets, ledger_checks
from fintech_dataops.defs.ledger.resources import ledger_resources

defs = dg.Definitions(assets=ledger_assets, asset_checks=ledger_checks, resources=ledger_resources())
