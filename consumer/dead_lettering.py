"""Dead-lettering with a reason: the consumer publishes the message to the dead-letter
exchange itself (confirmed), then acks the original.

RabbitMQ's own dead-lettering (``basic.reject``) would say only "rejected"; a reason the
operator can act on needs our header. A crash between the confirm and the ack redelivers the
message and dead-letters it once more: the dead-letter queue is at-least-once too.

Reasons (``x-herald-reason``): ``invalid`` (not a valid event; ``x-herald-detail`` says why),
``rate_limited`` (the actor was over its limit), ``semantic_duplicate`` (the body's
``recipients`` is narrowed to those whose notification collapsed into an earlier one),
``unknown_type`` (the tenant has no such type), ``template_failed`` (the template failed on the
event's data; ``x-herald-detail`` says which and why). The
broker adds ``x-death`` with reason ``delivery_limit`` for messages redelivered too often.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

from common.dead_letter_queue import DETAIL_HEADER, ROUTING_HEADER
from common.topology import REASON_HEADER

__all__ = ["DETAIL_HEADER", "DeadLetterReason", "dead_letter", "dead_letter_event"]

MAX_DETAIL = 1000


class DeadLetterReason(StrEnum):
    INVALID = "invalid"
    RATE_LIMITED = "rate_limited"
    SEMANTIC_DUPLICATE = "semantic_duplicate"
    UNKNOWN_TYPE = "unknown_type"
    """The event's type is neither a built-in nor one its tenant has (the producer checks
    this too; anything else that publishes to the exchange is checked here)."""
    TEMPLATE_FAILED = "template_failed"
    """The type's template failed on this event's data (an unknown name, a limit): the
    detail says which template and why; the batch's other events go on."""


async def dead_letter(
    exchange: AbstractExchange,
    message: AbstractIncomingMessage,
    reason: DeadLetterReason,
    detail: str,
    body: bytes | None = None,
) -> None:
    """Publish ``message`` (or ``body`` in its place) with the reason; returns once confirmed."""
    headers: dict[str, Any] = dict(message.headers or {})
    await _publish(exchange, message.body if body is None else body, headers, reason, detail,
                   message.routing_key or "", message.message_id, message.content_type,
                   message.timestamp)


async def dead_letter_event(
    exchange: AbstractExchange, event_json: bytes, event_id: str, reason: DeadLetterReason,
    detail: str,
) -> None:
    """Publish an event that has no AMQP message any more (one held for quiet hours, failing
    when released) with the reason; returns once confirmed."""
    await _publish(exchange, event_json, {}, reason, detail, "", event_id, "application/json",
                   None)


async def _publish(exchange: AbstractExchange, body: bytes, headers: dict[str, Any],
                   reason: DeadLetterReason, detail: str, routing: str,
                   message_id: str | None, content_type: str | None,
                   timestamp: datetime | None) -> None:
    headers[REASON_HEADER] = reason.value
    headers[DETAIL_HEADER] = detail[:MAX_DETAIL]
    headers[ROUTING_HEADER] = routing
    copy = aio_pika.Message(
        body=body,
        content_type=content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message_id,
        timestamp=timestamp,
        headers=headers,
    )
    await exchange.publish(copy, routing_key=reason.value)
