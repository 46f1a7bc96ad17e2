"""Names of every shared resource, all under one prefix (``HERALD_PREFIX``).

This module spells the RabbitMQ names. The Redis key and channel names belong to the buffer's
owner (:class:`common.buffer.keys.BufferKeys`, with the hash-tag rule); :class:`Names`
inherits them, so one object names everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.buffer.keys import BufferKeys

__all__ = ["Names"]


@dataclass(frozen=True, slots=True)
class Names(BufferKeys):
    """Every exchange and queue name (and, from :class:`BufferKeys`, every Redis key and
    channel name), derived from one prefix."""

    # --- RabbitMQ -----------------------------------------------------------------------
    @property
    def events_exchange(self) -> str:
        """Topic exchange the producer publishes events to (routing key ``event.<type>``)."""
        return f"{self.prefix}.events"

    @property
    def notify_queue(self) -> str:
        """The consumer's quorum queue: events to turn into notifications, and nothing else."""
        return f"{self.prefix}.notify"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.prefix}.dlq"

    @staticmethod
    def routing_key(event_type: str) -> str:
        return f"event.{event_type.lower()}"
