"""The simulated world: population, transactions, rendering to landing-zone feed files."""
