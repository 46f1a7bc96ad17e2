"""``python -m consumer.dlq``: list and replay the dead-letter queue.

    python -m consumer.dlq list [--limit 50]
    python -m consumer.dlq replay [--reason rate_limited] [--limit 100] [--yes]

``list`` takes up to ``--limit`` messages without acknowledging them and prints one JSON line
each (message id, reason, detail, routing key, how often RabbitMQ saw it die), then puts them
all back (``basic.nack`` with requeue) before it ends. ``replay`` publishes each chosen message
back to the events exchange with its original routing key (confirmed), and only then removes it
from the dead-letter queue, so a crash in between makes a duplicate (which the consumer's dedup
absorbs), never a loss. The semantics live in :mod:`common.dead_letter_queue`, shared with the
console. It reads the same settings as the services (``RABBITMQ_URL``, ``HERALD_PREFIX``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson

from common.dead_letter_queue import (
    Selection,
    browse,
    describe,
    original_routing_key,
    reason_of,
    settle,
)
from common.settings import BaseServiceSettings, load_settings

__all__ = ["describe", "main", "original_routing_key", "reason_of"]


async def run(command: str, limit: int, reason: str | None, out: Any = sys.stdout) -> int:
    settings = load_settings(BaseServiceSettings, "dlq")
    if command == "list":
        rows = await browse(settings.rabbitmq_url, settings.names, Selection(limit=limit))
        for row in rows:
            out.write(orjson.dumps(row).decode() + "\n")
        return len(rows)
    done = await settle(settings.rabbitmq_url, settings.names,
                        Selection(reason=reason, limit=limit), replay=True)
    for row in done:
        out.write(orjson.dumps({"replayed": row["id"],
                                "routingKey": row["routingKey"]}).decode() + "\n")
    return len(done)


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
    if args.command == "replay" and not args.yes and (
            not sys.stdin.isatty()
            or input(f"replay up to {args.limit} messages? [y/N] ") != "y"):
            print("nothing replayed (pass --yes to skip the question)", file=sys.stderr)
            sys.exit(1)
    count = asyncio.run(run(args.command, args.limit, args.reason))
    print(f"{count} message(s) {'listed' if args.command == 'list' else 'replayed'}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
