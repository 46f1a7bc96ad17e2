"""Publishes events to RabbitMQ with publisher confirms, and keeps the connection alive.

:meth:`Publisher.publish` returns only once the broker has confirmed the message (persistent,
routed to the durable quorum queue). Anything else — broker down, connection being restored,
a nack, an unroutable message, no confirm within the timeout — raises
:class:`PublishUnavailable` and the caller answers 503. A timed-out publish may still be
confirmed later; that is why callers may retry with the same ``eventId``, which the consumer
deduplicates.

If RabbitMQ is unreachable at start the publisher keeps trying in the background (the
service still starts, ``/readyz`` says unready); once connected, aio-pika's robust connection
reconnects and re-declares the topology by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import cast

import aiormq
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from pamqp.commands import Basic

from common.amqp import connect
from common.logs import get_logger
from common.models import Event
from common.naming import Names
from common.topology import Topology, declare_topology

__all__ = ["PublishUnavailable", "Publisher"]

log = get_logger(__name__)


class PublishUnavailable(Exception):
    """The broker did not confirm the message; nothing is known to be accepted. ``reason``
    says why, for the metrics: ``disconnected``, ``blocked``, ``rejected``, ``unroutable``,
    ``timeout`` or ``error``."""

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason


class Publisher:
    def __init__(
        self, url: str, names: Names, delivery_limit: int, timeout: float
    ) -> None:
        self._url = url
        self._names = names
        self._delivery_limit = delivery_limit
        self._timeout = timeout
        self._connection: AbstractRobustConnection | None = None
        self._topology: Topology | None = None
        self._channel: AbstractRobustChannel | None = None
        self._connector: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect now if the broker answers, else keep trying in the background."""
        self._connector = asyncio.create_task(self._connect_forever())
        done, _ = await asyncio.wait({self._connector}, timeout=self._timeout)
        if not done:
            log.warning("rabbitmq not reachable yet; accepting nothing until it is")

    async def _connect_forever(self) -> None:
        connection = await connect(self._url, self._timeout)
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        self._topology = await declare_topology(channel, self._names, self._delivery_limit)
        self._channel = channel
        self._connection = connection
        log.info("rabbitmq connected", exchange=self._names.events_exchange)

    @property
    def connected(self) -> bool:
        connection = self._connection
        return connection is not None and connection.connected.is_set()

    async def check(self) -> None:
        """Readiness: raises unless the connection to RabbitMQ is up."""
        if not self.connected:
            raise ConnectionError("rabbitmq not connected")

    async def publish(self, event: Event) -> None:
        """Publish one event and wait for its confirm; :class:`PublishUnavailable` if none."""
        (failure,) = await self.publish_many([event])
        if failure is not None:
            raise failure

    async def publish_many(self, events: Sequence[Event]) -> list[PublishUnavailable | None]:
        """Publish concurrently and wait for every confirm, within one timeout for all.

        One result per event, in order: ``None`` once confirmed, else why not. An event whose
        confirm had not come when the timeout ran out is unavailable, even if the broker
        confirms it later (the caller retries with the same eventId).
        """
        topology, robust = self._topology, self._channel
        if topology is None or robust is None or not self.connected:
            return [PublishUnavailable("rabbitmq not connected", "disconnected")] * len(events)
        outcomes: list[PublishUnavailable | None] = [
            PublishUnavailable(f"no confirm within {self._timeout} s", "timeout")
        ] * len(events)
        try:
            channel = cast(aiormq.Channel, await robust.get_underlay_channel())
        except Exception as exc:
            return [_unavailable(exc)] * len(events)
        if await _blocked(channel):
            return [PublishUnavailable("rabbitmq blocks publishers (a memory or disk alarm)",
                                       "blocked")] * len(events)

        async def one(index: int, event: Event) -> None:
            try:
                await self._send(channel, topology.events.name, event)
            except Exception as exc:
                outcomes[index] = _unavailable(exc)
            else:
                outcomes[index] = None

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._timeout):
                if len(events) == 1:
                    await one(0, events[0])
                else:
                    await asyncio.gather(*(one(i, e) for i, e in enumerate(events)))
        return outcomes

    @staticmethod
    async def _send(channel: aiormq.Channel, exchange: str, event: Event) -> None:
        # aiormq directly rather than aio-pika's Exchange.publish: the same frames and the
        # same confirm, without building a Message, and with ``wait=False`` so the channel
        # lock is not held until the frame is on the socket (publishes of concurrent requests
        # queue behind each other otherwise). The confirm is still awaited: Basic.Nack raises
        # DeliveryError, an unroutable message PublishError.
        properties = Basic.Properties(
            content_type="application/json",
            delivery_mode=2,  # persistent
            message_id=event.eventId,
            timestamp=event.acceptedAt,
            headers={"x-herald-tenant": event.tenantId, "x-herald-type": str(event.type)},
        )
        await channel.basic_publish(
            Event.__pydantic_serializer__.to_json(event),
            exchange=exchange,
            routing_key=Names.routing_key(event.type),
            properties=properties,
            mandatory=True,
            wait=False,
        )

    async def close(self) -> None:
        if self._connector is not None and not self._connector.done():
            self._connector.cancel()
        if self._connection is not None:
            await self._connection.close()


async def _blocked(channel: aiormq.Channel) -> bool:
    """Whether the broker has blocked this connection (``connection.blocked``: a memory or
    disk alarm). aiormq then holds every frame until it is unblocked, so a publish would wait
    for its whole timeout: the request is answered 503 at once instead. ``ready()`` returns
    without suspending when the connection is up and unblocked, so the check costs nothing."""
    try:
        async with asyncio.timeout(0):
            await channel.connection.ready()
    except TimeoutError:
        return True
    return False


def _unavailable(exc: BaseException) -> PublishUnavailable:
    if isinstance(exc, aiormq.exceptions.PublishError):  # returned: no queue bound
        reason = "unroutable"
    elif isinstance(exc, aiormq.exceptions.DeliveryError):
        reason = "rejected"  # a nack: x-overflow reject-publish on a full queue
    elif isinstance(exc, aiormq.exceptions.AMQPConnectionError | ConnectionError):
        reason = "disconnected"
    else:
        reason = "error"
    return PublishUnavailable(f"{type(exc).__name__}: {exc}", reason)
