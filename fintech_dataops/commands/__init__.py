"""Sub-commands of ``fintech-dataops`` (one module per command group)."""
