"""The gateway's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["ABORTS", "ACKS", "ACK_BATCHES", "AUTH_FAILURES", "CLOSES", "CONNECTIONS",
           "DELIVERED", "DELIVERY_SECONDS", "UNAUTHENTICATED"]

CONNECTIONS = Gauge("herald_gateway_connections", "Authenticated WebSocket connections")
DELIVERED = Counter("herald_gateway_notifications_sent_total",
                    "NOTIFICATION frames sent", ["path"])
ACKS = Counter("herald_gateway_acks_total", "Notifications acknowledged by clients")
ACK_BATCHES = Counter("herald_gateway_ack_batches_total",
                      "Batches of ACK frames written to Redis together")
AUTH_FAILURES = Counter("herald_gateway_auth_failures_total", "Failed AUTH", ["code"])
CLOSES = Counter("herald_gateway_closes_total", "Connections closed by the gateway", ["code"])
DELIVERY_SECONDS = Histogram(
    "herald_delivery_latency_seconds",
    "From the notification's createdAt to its live NOTIFICATION frame",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
UNAUTHENTICATED = Gauge("herald_gateway_unauthenticated_connections",
                        "WebSocket connections that have not sent a valid AUTH yet")
ABORTS = Counter("herald_gateway_aborts_total",
                 "Connections cut off without a close handshake (a client that does not read)",
                 ["reason"])
