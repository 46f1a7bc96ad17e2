"""Every Redis key (and pub/sub channel) name Herald uses, all under one prefix.

**The slot rule: every key of one script call is in one hash slot.** The buffer is split into
``shards`` (``HERALD_BUFFER_SHARDS``, default 1) by a stable hash of ``tenant:user``; every
key of a user carries its shard's hash tag ``{N}``, and so does that shard's persist stream
(``{prefix}:persist:{N}``), the one key the ACK and expiry scripts write besides the user's.
So a script that moves a user's notification to the stream touches one slot, and a Redis
Cluster spreads the shards over its nodes. On a single Redis (what Herald deploys) one shard
is right; a cluster wants several per node. Every service must be given the same number:
changing it moves every user to other keys, so drain first (``docs/DESIGN.md``).

A recipient's held notifications (quiet hours, :mod:`common.buffer.held`) are in their
shard's held index and bodies (``{prefix}:held:{N}``, ``{prefix}:heldbody:{N}``, tag ``{N}``)
and in their own held set: one slot again.

The actor's rate-limit log carries the actor's shard (``tenant:actor``), an ingest bucket the
tag ``{key id}``. Ids are validated by the models to ``[A-Za-z0-9._@-]``, so neither ``{``,
``}`` nor ``:`` can appear inside a name part. Four keys are global (one per deployment) and
are only ever touched by single commands, never inside a script with other keys: the
expiry index, the erasure index, the sweeper's lease and the persist dead-letter stream.

Nothing outside :mod:`common.buffer` spells a key: services call these methods (or the API
classes of :mod:`common.buffer`, which call them).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

__all__ = ["MAX_SHARDS", "BufferKeys", "glob_escape"]

MAX_SHARDS = 1024


def glob_escape(text: str) -> str:
    """``text`` with Redis's glob characters escaped (ids and prefixes have none today)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


@dataclass(frozen=True, slots=True)
class BufferKeys:
    """Every Redis key and channel name, derived from one prefix (``HERALD_PREFIX``)."""

    prefix: str
    shards: int = 1
    """How many shards the buffer is split into (``HERALD_BUFFER_SHARDS``), at least 1."""

    def __post_init__(self) -> None:
        if not 1 <= self.shards <= MAX_SHARDS:
            raise ValueError(f"shards must be within 1..{MAX_SHARDS}, not {self.shards}")

    def shard(self, tenant_id: str, user_id: str) -> int:
        """The shard of one user (or actor): a stable hash of ``tenant:user``."""
        if self.shards == 1:
            return 0
        return zlib.crc32(f"{tenant_id}:{user_id}".encode()) % self.shards

    def tag(self, tenant_id: str, user_id: str) -> str:
        """The part of a user's (or actor's) key names after the kind: ``{N}:tenant:user``,
        whose hash tag ``{N}`` is the user's shard."""
        return f"{{{self.shard(tenant_id, user_id)}}}:{tenant_id}:{user_id}"

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

    def digest_key(self, tenant_id: str, user_id: str, group: str) -> str:
        """HASH, the state of one open digest of the user (:mod:`common.buffer.digest`):
        ``group`` is a hash of the type and its ``digestBy`` values; the key lives the
        digest's window (``PEXPIRE`` when it opens)."""
        return f"{self.prefix}:digest:{self.tag(tenant_id, user_id)}:{group}"

    def digest_pattern(self, tenant_id: str, user_id: str) -> str:
        """``SCAN MATCH`` pattern of every open digest of the user (erasure deletes them)."""
        return glob_escape(self.digest_key(tenant_id, user_id, "")) + "*"

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

    def inbox_seq(self, tenant_id: str, user_id: str) -> str:
        """Counter (``INCR``) of the user's inbox-state changes: the ``seq`` of each
        ``INBOX_STATE`` (:mod:`common.inbox`), so a client never shows older counts after
        newer ones."""
        return f"{self.prefix}:inboxseq:{self.tag(tenant_id, user_id)}"

    def held_set(self, tenant_id: str, user_id: str) -> str:
        """SET of the user's held members (:meth:`held_index_at`): the per-user index that
        moves a user's held notifications when their time zone or quiet hours change
        (:mod:`common.buffer.held`)."""
        return f"{self.prefix}:heldu:{self.tag(tenant_id, user_id)}"

    # --- one actor ----------------------------------------------------------------------
    def rate_limit_key(self, tenant_id: str, actor_id: str) -> str:
        """ZSET sliding-window log of the events admitted for one actor."""
        return f"{self.prefix}:rl:{self.tag(tenant_id, actor_id)}"

    # --- one API key at the door --------------------------------------------------------
    def ingest_bucket(self, key_id: str) -> str:
        """HASH token bucket (``tokens``, ``us``) of one caller of the ingest API; the tag
        ``{key id}`` keeps it on one Cluster slot (the script touches only this key)."""
        return f"{self.prefix}:tb:{{{key_id}}}"

    # --- one fan-out (issue 20) ----------------------------------------------------------
    def fanout_key(self, tenant_id: str, event_id: str) -> str:
        """HASH, one topic event's fan-out (:mod:`common.buffer.fanout`): its state, start,
        the event as taken, its progress, and one ``p:N`` field per page recorded. The tag
        ``{tenant:event}`` keeps it and its chunk markers on one Cluster slot."""
        return f"{self.prefix}:fanout:{{{tenant_id}:{event_id}}}"

    def fanout_chunk_marker(self, tenant_id: str, event_id: str, after: str) -> str:
        """STRING, the marker of the chunk of one fan-out that starts after user ``after``
        (``^`` for the first): ``pending`` while one holder publishes it (with a lease),
        ``done`` once RabbitMQ confirmed it, so a redelivered chunk never publishes a second
        successor."""
        return f"{self.prefix}:fanoutc:{{{tenant_id}:{event_id}}}:{after}"

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

    # --- one shard --------------------------------------------------------------------
    def persist_stream_of(self, tenant_id: str, user_id: str) -> str:
        """The persist stream of a user's shard: the one their ``acked``/``expired`` entries
        go to, in the same slot as the user's keys."""
        return self.persist_stream_at(self.shard(tenant_id, user_id))

    def persist_stream_at(self, shard: int) -> str:
        """Stream of acked and expired notifications of shard ``shard``, read by the
        persisters' group (one worker per shard)."""
        return f"{self.prefix}:persist:{{{shard}}}"

    def held_index_at(self, shard: int) -> str:
        """ZSET of the notifications shard ``shard`` holds for recipients in quiet hours:
        member ``tenant|user|notification id``, score the release time (epoch ms; while a
        releaser has it, the end of its claim). In the shard's slot, as the persist stream."""
        return f"{self.prefix}:held:{{{shard}}}"

    def held_bodies_at(self, shard: int) -> str:
        """HASH member -> held entry JSON (the event as received, held and release ms) of
        the notifications :meth:`held_index_at` holds."""
        return f"{self.prefix}:heldbody:{{{shard}}}"

    @property
    def persist_streams(self) -> list[str]:
        """Every shard's persist stream, shard 0 first."""
        return [self.persist_stream_at(n) for n in range(self.shards)]

    @property
    def persist_stream(self) -> str:
        """Shard 0's persist stream: with one shard (the default), the only one."""
        return self.persist_stream_at(0)

    @property
    def persist_group(self) -> str:
        """The persisters' consumer group on :attr:`persist_stream`."""
        return f"{self.prefix}.persisters"

    @property
    def persist_dead_stream(self) -> str:
        """Stream of malformed persist-stream entries, copied there before they are acked."""
        return f"{self.prefix}:persist:dead"

    @property
    def sweeper_lease(self) -> str:
        """STRING, the expiry sweeper's lease: the holder's name, ``PX`` a few intervals."""
        return f"{self.prefix}:sweeper"
