"""Open banking: Plaid and Stripe through the official SDKs (the local emulator when no credentials are set)."""

import dagster as dg

from fintech_dataops.defs.open_banking.assets import open_banking_assets, quarantine_specs
from fintech_dataops.defs.open_banking.resources import open_banking_resources

defs = dg.Definitions(assets=[*open_banking_assets, *quarantine_specs], resources=open_banking_resources())
