"""``/healthz``, ``/readyz`` and ``/metrics``: :func:`common.health.probe_routes`, declared
with their operations in the document.

The probes are common's (every service serves them); this module only says what they answer,
so a probe common adds without a line here fails at start-up rather than going undocumented.
"""

from __future__ import annotations

from starlette.routing import Route

from common.health import Readiness, probe_routes
from producer import api_shapes as shapes
from producer.routing import Declared, Operation, answer, answers

__all__ = ["OPERATIONS", "probes"]

OPERATIONS: dict[str, dict[str, Operation]] = {
    "/healthz": {"get": {
        "tags": ["operations"], "operationId": "healthz", "summary": "Alive",
        "responses": answers({200: answer("The process answers.", shapes.Health)}),
    }},
    "/readyz": {"get": {
        "tags": ["operations"], "operationId": "readyz",
        "summary": "RabbitMQ, Redis and the store answer",
        "responses": answers({
            200: answer("Ready.", shapes.Readiness),
            503: answer("A dependency does not answer; `checks` names it.", shapes.Readiness),
        }),
    }},
    "/metrics": {"get": {
        "tags": ["operations"], "operationId": "metrics",
        "summary": "Prometheus metrics",
        "responses": answers({200: answer("Prometheus text format.", media="text/plain")}),
    }},
}
"""Each probe path's operations."""


def probes(readiness: Readiness) -> list[Declared]:
    """The probe routes, in :data:`OPERATIONS`' order; a probe served and not described, or
    described and not served, is a :class:`ValueError` (at start-up)."""
    served: dict[str, Route] = {route.path: route for route in probe_routes(readiness)}
    if served.keys() != OPERATIONS.keys():
        raise ValueError(f"probes served {sorted(served)}, described {sorted(OPERATIONS)}")
    declared = [Declared(path, operations, endpoint=served[path].endpoint)
                for path, operations in OPERATIONS.items()]
    for route in declared:
        assert set(route.methods) == set(served[route.path].methods or ()) - {"HEAD"}
    return declared
