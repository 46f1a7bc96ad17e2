"""Herald's WebSocket gateway (placeholder until the delivery issue)."""
