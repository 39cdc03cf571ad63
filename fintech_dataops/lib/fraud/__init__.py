"""Fraud domain logic (no Dagster): rules as data, past-only features, the model, evaluation and
:class:`~fintech_dataops.lib.fraud.engine.FraudEngine` — the one scorer of the batch, near-real-time
and online paths. Import submodules directly; this package imports nothing heavy.
"""
