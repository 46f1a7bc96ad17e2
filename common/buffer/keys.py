"""Every Redis key (and pub/sub channel) name Herald uses, all under one prefix.

**The slot rule.** Keys that belong to one recipient carry the hash tag ``{tenant:user}``, so
every key of that user lands on one Redis Cluster slot and a script may touch them together.
The actor's rate-limit log carries the *actor's* tag (``{tenant:actor}``), an ingest bucket
``{key id}``. Ids are validated by the models to ``[A-Za-z0-9._@-]``, so neither ``{``, ``}``
nor ``:`` can appear inside a tag. Three keys are global (one per deployment): the persist
stream, the expiry index and the erasure index; see ``docs/DESIGN.md`` for which scripts
touch one of them besides a user's keys, and what Redis Cluster would need for those.

Nothing outside :mod:`common.buffer` spells a key: services call these methods (or the API
classes of :mod:`common.buffer`, which call them).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BufferKeys", "glob_escape"]


def glob_escape(text: str) -> str:
    """``text`` with Redis's glob characters escaped (ids and prefixes have none today)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


@dataclass(frozen=True, slots=True)
class BufferKeys:
    """Every Redis key and channel name, derived from one prefix (``HERALD_PREFIX``)."""

    prefix: str

    @staticmethod
    def tag(tenant_id: str, user_id: str) -> str:
        """The hash tag of one user's (or actor's) keys: ``{tenant:user}``."""
        return f"{{{tenant_id}:{user_id}}}"

    # --- one recipient (same hash slot) -------------------------------------------------
    def pending_hash(self, tenant_id: str, user_id: str) -> str:
        """HASH notification id -> notification JSON, for notifications not yet acked."""
        return f"{self.prefix}:pending:{self.tag(tenant_id, user_id)}"

    def pending_index(self, tenant_id: str, user_id: str) -> str:
        """ZSET of pending notification ids scored by creation time (ms), for ordered replay."""
        return f"{self.prefix}:order:{self.tag(tenant_id, user_id)}"

    def seen_key(self, tenant_id: str, user_id: str, notification_id: str) -> str:
        """Marker that a notification was made once; makes redelivered events idempotent."""
        return f"{self.prefix}:seen:{self.tag(tenant_id, user_id)}:{notification_id}"

    def semantic_key(self, tenant_id: str, user_id: str, digest: str) -> str:
        """Marker of a semantic-dedup window (e.g. one like per actor, post and recipient)."""
        return f"{self.prefix}:sem:{self.tag(tenant_id, user_id)}:{digest}"

    def seen_pattern(self, tenant_id: str, user_id: str) -> str:
        """``SCAN MATCH`` pattern of every "already made" marker of the user."""
        return glob_escape(self.seen_key(tenant_id, user_id, "")) + "*"

    def semantic_pattern(self, tenant_id: str, user_id: str) -> str:
        """``SCAN MATCH`` pattern of every semantic-window marker of the user."""
        return glob_escape(self.semantic_key(tenant_id, user_id, "")) + "*"

    @staticmethod
    def seen_id(key: str) -> str:
        """The notification id at the end of a :meth:`seen_key`."""
        return key.rsplit(":", 1)[1]

    def erased_marker(self, tenant_id: str, user_id: str) -> str:
        """HASH, the erasure tombstone of one user: ``at`` = erasure time (epoch ms) and one
        field per notification id erased (or made before it), so the consumer never makes
        them again (:mod:`common.buffer.erasure`)."""
        return f"{self.prefix}:erased:{self.tag(tenant_id, user_id)}"

    def live_channel(self, tenant_id: str, user_id: str) -> str:
        """Pub/sub channel the gateways subscribe to for a connected user."""
        return f"{self.prefix}:live:{self.tag(tenant_id, user_id)}"

    # --- one actor ----------------------------------------------------------------------
    def rate_limit_key(self, tenant_id: str, actor_id: str) -> str:
        """ZSET sliding-window log of the events admitted for one actor."""
        return f"{self.prefix}:rl:{self.tag(tenant_id, actor_id)}"

    # --- one API key at the door --------------------------------------------------------
    def ingest_bucket(self, key_id: str) -> str:
        """HASH token bucket (``tokens``, ``us``) of one caller of the ingest API; the tag
        ``{key id}`` keeps it on one Cluster slot (the script touches only this key)."""
        return f"{self.prefix}:tb:{{{key_id}}}"

    # --- global ---------------------------------------------------------------------------
    @property
    def expiry_index(self) -> str:
        """ZSET ``tenant|user|notification id`` scored by ``expiresAt`` (ms), swept by the
        persister so that unacked notifications end in the store as ``expired``."""
        return f"{self.prefix}:expiry"

    @property
    def erasure_index(self) -> str:
        """ZSET ``tenant|user`` scored by erasure time (ms): the persisters' one-command check
        that a stream entry belongs to an erased user (:mod:`common.buffer.erasure`)."""
        return f"{self.prefix}:erasures"

    @property
    def persist_stream(self) -> str:
        """Stream of acked and expired notifications, read by the persisters' group."""
        return f"{self.prefix}:persist"

    @property
    def persist_group(self) -> str:
        """The persisters' consumer group on :attr:`persist_stream`."""
        return f"{self.prefix}.persisters"

    @property
    def persist_dead_stream(self) -> str:
        """Stream of malformed persist-stream entries, copied there before they are acked."""
        return f"{self.persist_stream}:dead"

    @property
    def sweeper_lease(self) -> str:
        """STRING, the expiry sweeper's lease: the holder's name, ``PX`` a few intervals."""
        return f"{self.prefix}:sweeper"
