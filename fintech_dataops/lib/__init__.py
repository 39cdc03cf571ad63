"""Pure domain logic. Nothing in this package imports dagster (a test enforces it)."""
