"""The dead-letter queue as an operator sees it: browse, replay, purge.

Shared by the CLI (``python -m consumer.dlq``) and the console's admin API, so both keep one
set of semantics:

* **browse** takes messages with ``basic.get`` without acknowledging them, then requeues every
  one (``basic.nack``) before it answers (RabbitMQ may count it as a delivery);
* **replay** publishes a chosen message back to the events exchange with its original
  routing key (confirmed), and only then acks it off the dead-letter queue: a crash in
  between makes a duplicate (absorbed by the consumer's dedup), never a loss;
* **purge** acks a chosen message without publishing it: it is gone.

A message is chosen by its id (``messageId``, or ``sha1:<hex>`` of its body when it has
none) or by its reason; at most :data:`MAX_SCAN` messages are looked at in one call, so a
very long queue is worked through in several.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from common.naming import Names
from common.topology import REASON_HEADER

__all__ = ["DETAIL_HEADER", "MAX_SCAN", "ROUTING_HEADER", "Selection", "browse", "describe",
           "message_key", "original_routing_key", "reason_of", "settle"]

DETAIL_HEADER = "x-herald-detail"
ROUTING_HEADER = "x-herald-routing-key"
MAX_SCAN = 1000


def _text(value: Any) -> Any:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _deaths(message: AbstractIncomingMessage) -> list[dict[str, Any]]:
    deaths = (message.headers or {}).get("x-death")
    return [d for d in deaths if isinstance(d, dict)] if isinstance(deaths, list) else []


def original_routing_key(message: AbstractIncomingMessage) -> str:
    """Where the message was going before it died: our header, or RabbitMQ's ``x-death``."""
    headers = message.headers or {}
    ours = _text(headers.get(ROUTING_HEADER))
    if isinstance(ours, str) and ours:
        return ours
    for death in _deaths(message):
        keys = death.get("routing-keys") or []
        if keys:
            return str(_text(keys[0]))
    return "event.unknown"


def reason_of(message: AbstractIncomingMessage) -> str:
    headers = message.headers or {}
    ours = _text(headers.get(REASON_HEADER))
    if isinstance(ours, str):
        return ours
    deaths = _deaths(message)
    return str(_text(deaths[0].get("reason"))) if deaths else "unknown"


def message_key(message: AbstractIncomingMessage) -> str:
    """How an operator names one message: its ``messageId``, else a digest of its body."""
    if message.message_id:
        return message.message_id
    return "sha1:" + hashlib.sha1(message.body).hexdigest()[:20]


def describe(message: AbstractIncomingMessage, body_chars: int = 200) -> dict[str, Any]:
    headers = message.headers or {}
    return {
        "id": message_key(message),
        "messageId": message.message_id,
        "reason": reason_of(message),
        "detail": _text(headers.get(DETAIL_HEADER)),
        "routingKey": original_routing_key(message),
        "deaths": sum(int(d.get("count", 1)) for d in _deaths(message)),
        "bytes": len(message.body),
        "body": message.body[:body_chars].decode(errors="replace"),
    }


@dataclass(frozen=True, slots=True)
class Selection:
    """Which messages: those with one of ``ids``, or (no ids) those with ``reason`` (``None``:
    any), at most ``limit`` of them."""

    ids: Collection[str] = ()
    reason: str | None = None
    limit: int = 100

    def matches(self, message: AbstractIncomingMessage) -> bool:
        if self.ids:
            return message_key(message) in self.ids
        return self.reason is None or reason_of(message) == self.reason


async def _take(queue: AbstractQueue, selection: Selection, scan: int = MAX_SCAN,
                ) -> tuple[list[AbstractIncomingMessage], list[AbstractIncomingMessage]]:
    """Up to ``selection.limit`` matching messages among the first ``scan`` (unacked), and
    the ones looked at but not chosen (also unacked: the caller puts them back)."""
    chosen: list[AbstractIncomingMessage] = []
    passed: list[AbstractIncomingMessage] = []
    for _ in range(scan):
        if len(chosen) >= selection.limit:
            break
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            break
        (chosen if selection.matches(message) else passed).append(message)
    return chosen, passed


async def _put_back(messages: list[AbstractIncomingMessage]) -> None:
    """Requeue what was looked at, on the channel that took it, before that channel closes:
    the broker has them back by the time the caller answers (closing alone requeues them
    too, but the broker may still be doing it when the next request comes)."""
    for message in messages:
        await message.nack(requeue=True)


async def browse(url: str, names: Names, selection: Selection,
                 body_chars: int = 200) -> list[dict[str, Any]]:
    """Describe the chosen messages; every one stays in the queue."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(names.dead_letter_queue)
        chosen, passed = await _take(queue, selection)
        described = [describe(m, body_chars) for m in chosen]
        await _put_back(chosen + passed)
        await channel.close()
        return described


def _replay_headers(message: AbstractIncomingMessage) -> dict[str, Any]:
    return {k: v for k, v in (message.headers or {}).items()
            if not k.startswith(("x-death", "x-herald-", "x-first-death", "x-last-death"))}


async def settle(url: str, names: Names, selection: Selection,
                 replay: bool) -> list[dict[str, Any]]:
    """Replay (``replay=True``) or purge the chosen messages; returns what was done to each
    (``id``, ``reason``, ``routingKey``). Messages looked at and not chosen stay queued."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        queue = await channel.get_queue(names.dead_letter_queue)
        exchange = await channel.get_exchange(names.events_exchange) if replay else None
        done = []
        chosen, passed = await _take(queue, selection)
        await _put_back(passed)
        for message in chosen:
            routing_key = original_routing_key(message)
            if exchange is not None:
                await exchange.publish(
                    aio_pika.Message(message.body, headers=_replay_headers(message),
                                     message_id=message.message_id,
                                     content_type=message.content_type,
                                     delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=routing_key,
                )
            await message.ack()
            done.append({"id": message_key(message), "reason": reason_of(message),
                         "routingKey": routing_key})
        return done
