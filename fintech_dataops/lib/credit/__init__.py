"""Credit scoring v2 with alternative data (no Dagster; see the docstring of each module).

- :mod:`.config` — weights, scorability rules, bands, loan cutoff (``ScoringConfig``).
- :mod:`.features` — one DuckDB query: per-customer features from the core tables.
- :mod:`.components` — the documented, monotone factors and the six components.
- :mod:`.scoring` — weighted score 300–850, evidence, scorability, reason codes.
- :mod:`.decisions` — loan applications decided against the cutoff.
- :mod:`.validation` — AUC / Gini / KS against ``loan_outcomes``, default rate by band.
- :mod:`.population` — the scorable-population record (traditional vs enhanced, uplift).
- :mod:`.lookup` — one customer's score from the warehouse (the CLI path; light imports).
- :mod:`.summary` — the credit lines of ``fintech-dataops summary``.
- :mod:`.sample` — clean feed frames (e.g. the simulator's) as ``core.*`` tables, for tests and benchmarks.
"""
