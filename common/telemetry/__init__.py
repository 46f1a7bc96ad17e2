"""What every Herald process tells the operator's console: its figures each second
(:mod:`.reporter`), who is connected to it (gateways, :class:`~.reporter.Presence`), and stage
marks of single events (:mod:`.trace`). Key names: :mod:`.keys`; the console's reads:
:mod:`.reader`.

A service builds its :class:`~.trace.Tracer` (and, a gateway, its
:class:`~.reporter.Presence`) in its wiring, hands them to what marks or counts, and starts
and stops the lot with one call each::

    tracer = Tracer()
    pipeline = Pipeline(..., tracer=tracer)
    telemetry = start_telemetry(redis, settings, "consumer", tracer)
    ...
    await telemetry.close()

What differs between services is passed in (the service's name, a presence or none); nothing
here looks at which service it runs in.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from common.settings import BaseServiceSettings
from common.telemetry.reporter import Presence, Reporter, default_replica_id
from common.telemetry.trace import Tracer

__all__ = ["Presence", "Telemetry", "Tracer", "start_telemetry"]


@dataclass
class Telemetry:
    reporter: Reporter
    tracer: Tracer

    async def close(self) -> None:
        await self.tracer.close()
        await self.reporter.close()


def start_telemetry(redis: Redis, settings: BaseServiceSettings, service: str, tracer: Tracer,
                    presence: Presence | None = None) -> Telemetry:
    """Start the stats reporter and ``tracer`` of this process (call within its event loop).
    ``presence``: the gateway's open connections, written with each report (others: none)."""
    replica = settings.replica_id or default_replica_id()
    reporter = Reporter(redis, settings.names, service, replica, presence)
    reporter.start()
    tracer.start(redis, settings.names, settings.trace_ttl_seconds, service, replica)
    return Telemetry(reporter, tracer)
