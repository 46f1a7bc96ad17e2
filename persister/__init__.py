"""Herald's persister (placeholder until the delivery issue)."""
