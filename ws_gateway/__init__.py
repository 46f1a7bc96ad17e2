"""Herald's WebSocket gateway: AUTH, replay and live delivery of notifications, ACKs."""
