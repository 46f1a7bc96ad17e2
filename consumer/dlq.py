"""``python -m consumer.dlq``: list and replay the dead-letter queue.

    python -m consumer.dlq list [--limit 50]
    python -m consumer.dlq replay [--reason rate_limited] [--limit 100] [--yes]

``list`` takes up to ``--limit`` messages without acknowledging them and prints one JSON line
each (message id, reason, detail, routing key, how often RabbitMQ saw it die); closing the
channel puts them all back, in order. ``replay`` publishes each chosen message back to the
events exchange with its original routing key (confirmed), and only then removes it from the
dead-letter queue, so a crash in between makes a duplicate (which the consumer's dedup
absorbs), never a loss. It reads the same settings as the services (``RABBITMQ_URL``,
``HERALD_PREFIX``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractIncomingMessage

from common.settings import BaseServiceSettings, load_settings
from common.topology import REASON_HEADER
from consumer.deadletter import DETAIL_HEADER

__all__ = ["describe", "main", "original_routing_key"]


def _text(value: Any) -> Any:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _deaths(message: AbstractIncomingMessage) -> list[dict[str, Any]]:
    deaths = (message.headers or {}).get("x-death")
    return [d for d in deaths if isinstance(d, dict)] if isinstance(deaths, list) else []


def original_routing_key(message: AbstractIncomingMessage) -> str:
    """Where the message was going before it died: our header, or RabbitMQ's ``x-death``."""
    headers = message.headers or {}
    ours = _text(headers.get("x-herald-routing-key"))
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


def describe(message: AbstractIncomingMessage) -> dict[str, Any]:
    headers = message.headers or {}
    return {
        "messageId": message.message_id,
        "reason": reason_of(message),
        "detail": _text(headers.get(DETAIL_HEADER)),
        "routingKey": original_routing_key(message),
        "deaths": sum(int(d.get("count", 1)) for d in _deaths(message)),
        "bytes": len(message.body),
        "body": message.body[:200].decode(errors="replace"),
    }


async def _take(queue: aio_pika.abc.AbstractQueue, limit: int) -> list[AbstractIncomingMessage]:
    taken: list[AbstractIncomingMessage] = []
    while len(taken) < limit:
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            break
        taken.append(message)
    return taken


async def run(command: str, limit: int, reason: str | None, out: Any = sys.stdout) -> int:
    settings = load_settings(BaseServiceSettings, "dlq")
    names = settings.names
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        queue = await channel.get_queue(names.dead_letter_queue)
        taken = await _take(queue, limit)
        if command == "list":
            for message in taken:
                out.write(orjson.dumps(describe(message)).decode() + "\n")
            return len(taken)  # not acked: closing the channel returns them
        exchange = await channel.get_exchange(names.events_exchange)
        replayed = 0
        for message in taken:
            if reason is not None and reason_of(message) != reason:
                continue
            headers = {k: v for k, v in (message.headers or {}).items()
                       if not k.startswith("x-death") and not k.startswith("x-herald-")
                       and not k.startswith("x-first-death") and not k.startswith("x-last-death")}
            await exchange.publish(
                aio_pika.Message(message.body, headers=headers, message_id=message.message_id,
                                 content_type=message.content_type,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=original_routing_key(message),
            )
            await message.ack()
            replayed += 1
            out.write(orjson.dumps({"replayed": message.message_id,
                                    "routingKey": original_routing_key(message)}).decode() + "\n")
        return replayed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m consumer.dlq", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--limit", type=int, default=50, help="at most this many messages")
    parser.add_argument("--reason", help="replay only messages dead-lettered for this reason")
    parser.add_argument("--yes", action="store_true", help="replay without asking")
    args = parser.parse_args(argv)
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.command == "replay" and not args.yes:
        if not sys.stdin.isatty() or input(f"replay up to {args.limit} messages? [y/N] ") != "y":
            print("nothing replayed (pass --yes to skip the question)", file=sys.stderr)
            sys.exit(1)
    count = asyncio.run(run(args.command, args.limit, args.reason))
    print(f"{count} message(s) {'listed' if args.command == 'list' else 'replayed'}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
