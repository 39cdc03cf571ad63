"""The online fraud decision path: a resident service that decides in milliseconds.

``records`` validates what arrives, ``wal`` makes every acknowledged event
durable before the answer leaves and rotates it into landing-zone micro-batch
files, ``request_coalescer`` groups requests for one model call, ``scoring_thread`` scores them,
``gc_tuning`` keeps the collector off the hot path, ``engine_host`` owns the
:class:`~fintech_dataops.lib.fraud.engine.FraudEngine` (warm start, hot reload),
``app`` is the HTTP surface and ``server`` runs it. ``replay`` is the load
generator and ``landed_batches`` the pure logic behind the near-real-time sensor.
No module here imports dagster.
"""
