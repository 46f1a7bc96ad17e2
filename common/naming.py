"""Names of every shared resource, all under one prefix (``HERALD_PREFIX``).

Redis keys that belong to one recipient carry the hash tag ``{tenant:user}`` so that the
scripts touching them run on one Redis Cluster slot. Ids are validated by the models to the
charset ``[A-Za-z0-9._@-]``, so neither ``{``, ``}`` nor ``:`` can appear inside a tag.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Names"]


@dataclass(frozen=True, slots=True)
class Names:
    """Every exchange, queue, Redis key and channel name, derived from one prefix."""

    prefix: str

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

    # --- Redis: one recipient (same hash slot) ---------------------------------------------
    @staticmethod
    def _tag(tenant_id: str, user_id: str) -> str:
        return f"{{{tenant_id}:{user_id}}}"

    def pending_hash(self, tenant_id: str, user_id: str) -> str:
        """HASH notification id -> notification JSON, for notifications not yet acked."""
        return f"{self.prefix}:pending:{self._tag(tenant_id, user_id)}"

    def pending_index(self, tenant_id: str, user_id: str) -> str:
        """ZSET of pending notification ids scored by creation time (ms), for ordered replay."""
        return f"{self.prefix}:order:{self._tag(tenant_id, user_id)}"

    def seen_key(self, tenant_id: str, user_id: str, notification_id: str) -> str:
        """Marker that a notification was made once; makes redelivered events idempotent."""
        return f"{self.prefix}:seen:{self._tag(tenant_id, user_id)}:{notification_id}"

    def semantic_key(self, tenant_id: str, user_id: str, digest: str) -> str:
        """Marker of a semantic-dedup window (e.g. one like per actor, post and recipient)."""
        return f"{self.prefix}:sem:{self._tag(tenant_id, user_id)}:{digest}"

    def erased_marker(self, tenant_id: str, user_id: str) -> str:
        """HASH, the erasure tombstone of one user: ``at`` = erasure time (epoch ms) and one
        field per notification id erased (or made before it), so the consumer never makes
        them again (:mod:`common.erasure`)."""
        return f"{self.prefix}:erased:{self._tag(tenant_id, user_id)}"

    def live_channel(self, tenant_id: str, user_id: str) -> str:
        """Pub/sub channel the gateways subscribe to for a connected user."""
        return f"{self.prefix}:live:{self._tag(tenant_id, user_id)}"

    # --- Redis: one actor ----------------------------------------------------------------
    def rate_limit_key(self, tenant_id: str, actor_id: str) -> str:
        """ZSET sliding-window log of the events admitted for one actor."""
        return f"{self.prefix}:rl:{self._tag(tenant_id, actor_id)}"

    # --- Redis: one API key at the door -------------------------------------------------
    def ingest_bucket(self, key_id: str) -> str:
        """HASH token bucket (``tokens``, ``us``) of one caller of the ingest API; the tag
        ``{key id}`` keeps it on one Cluster slot (the script touches only this key)."""
        return f"{self.prefix}:tb:{{{key_id}}}"

    # --- Redis: global ---------------------------------------------------------------------
    @property
    def expiry_index(self) -> str:
        """ZSET ``tenant|user|notification id`` scored by ``expiresAt`` (ms), swept by the
        persister so that unacked notifications end in the store as ``expired``."""
        return f"{self.prefix}:expiry"

    @property
    def erasure_index(self) -> str:
        """ZSET ``tenant|user`` scored by erasure time (ms): the persisters' one-command check
        that a stream entry belongs to an erased user (:mod:`common.erasure`)."""
        return f"{self.prefix}:erasures"

    @property
    def persist_stream(self) -> str:
        """Stream of acked and expired notifications, read by the persisters' group."""
        return f"{self.prefix}:persist"
