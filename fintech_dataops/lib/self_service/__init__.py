"""Self-service analytics: the PII-masked PM view, its SQL guard and the read-only SQL runner."""
