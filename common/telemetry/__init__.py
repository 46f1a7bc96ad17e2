"""What every Herald process tells the operator's console: its figures each second
(:mod:`.reporter`), who is connected to it (gateways), and stage marks of single events
(:mod:`.trace`). Key names: :mod:`.keys`; the console's reads: :mod:`.reader`.

A service starts it with one call and stops it with one::

    telemetry = start_telemetry(redis, settings, "consumer")
    ...
    await telemetry.close()
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from common.settings import BaseServiceSettings
from common.telemetry.reporter import PRESENCE, Reporter, default_replica_id
from common.telemetry.trace import TRACE

__all__ = ["PRESENCE", "TRACE", "Telemetry", "start_telemetry"]


@dataclass
class Telemetry:
    reporter: Reporter

    async def close(self) -> None:
        await TRACE.close()
        await self.reporter.close()


def start_telemetry(redis: Redis, settings: BaseServiceSettings, service: str) -> Telemetry:
    """Start the stats reporter and the tracer of this process (call within its event loop)."""
    replica = settings.replica_id or default_replica_id()
    reporter = Reporter(redis, settings.names, service, replica,
                        PRESENCE if service == "ws_gateway" else None)
    reporter.start()
    TRACE.start(redis, settings.names, settings.trace_ttl_seconds, service, replica)
    return Telemetry(reporter)
