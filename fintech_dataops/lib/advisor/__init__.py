"""The LLM financial advisor (issue 22): an agent over typed tools that call the platform's own functions.

- ``scope``: who is asking (a customer bound to its own ``customer_id``, or staff by role) and what each
  session may read: enforced inside every tool, never by the prompt.
- ``tools``: read-only look-ups over the warehouse (credit explanation, spending, fraud decisions, loan
  status) and guarded SQL on the PII-masked published view.
- ``grounding``: every number and date in an answer must appear in a tool result of that turn.
- ``agent``: the pydantic-ai agent that wires the tools, the grounding validator and the model.
- ``offline``: the deterministic model used when no LLM endpoint is configured (same tools, same checks).
- ``evaluation`` / ``conversations``: the evaluation set and the PII-masked conversation feed.

Never imports dagster.
"""
