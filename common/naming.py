"""Names of every shared resource, all under one prefix (``HERALD_PREFIX``).

This module spells the RabbitMQ names. The Redis key and channel names belong to the buffer's
owner (:class:`common.buffer.keys.BufferKeys`, with the hash-tag rule); a :class:`Names`
holds one as :attr:`Names.keys` (composition: a ``Names`` is not a key schema, it has one),
so one object still names everything and each part is spelt by its owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.buffer.keys import BufferKeys

__all__ = ["Names"]


@dataclass(frozen=True, slots=True)
class Names:
    """Every exchange and queue name, and (:attr:`keys`) every Redis key and channel name,
    derived from one prefix."""

    prefix: str
    shards: int = 1
    """How many shards the buffer is split into (``HERALD_BUFFER_SHARDS``), at least 1."""
    keys: BufferKeys = field(init=False, repr=False, compare=False)
    """The buffer's key schema for this prefix and shard count."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", BufferKeys(self.prefix, self.shards))

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
    def fanout_queue(self) -> str:
        """The consumer's quorum queue of fan-out chunks (issue 20): one message per page of
        a topic event's subscribers, published to it through the default exchange (the
        routing key is this name), so no fan-out waits in line with one-recipient events."""
        return f"{self.prefix}.fanout"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.prefix}.dlq"

    @staticmethod
    def routing_key(event_type: str) -> str:
        return f"event.{event_type.lower()}"
