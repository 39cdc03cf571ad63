"""Open banking: Plaid and Stripe ingestion through the official SDKs, plus an offline sandbox emulator.

Pure library code (no dagster): the emulator, the sync logic (cursors, retries,
lossless landing), webhook verification and the SQL that publishes
``open_banking.*`` tables. Wiring lives in ``fintech_dataops/defs/open_banking``.
"""
