"""The gateway's side of the inbox states: a ``MARK`` / ``MARK_ALL`` frame made through
:class:`common.inbox.Inbox` (the one module that marks, counts and announces; its docstring
states the rules). The store is opened in the background (:class:`common.store.holder.StoreHolder`):
until it is open, or while it or Redis fails, a mark is not made and the client is told to send
it again (``ERROR TRY_AGAIN``); delivery and ACKs never wait for the store.
"""

from __future__ import annotations

from redis.asyncio import Redis

from common.auth import Identity
from common.buffer.keys import BufferKeys
from common.inbox import Inbox
from common.store.holder import StoreHolder
from ws_gateway import protocol
from ws_gateway.session_actions import ApplyMark

__all__ = ["Marks"]


class Marks:
    def __init__(self, redis: Redis, keys: BufferKeys, store: StoreHolder,
                 timeout_seconds: float = 5.0) -> None:
        self._redis = redis
        self._keys = keys
        self._store = store
        self._timeout = timeout_seconds

    async def apply(self, identity: Identity, asked: ApplyMark) -> str:
        """Make the mark; its ``MARK_OK`` frame. Raises
        :class:`~common.store.holder.StoreUnavailable`, a Redis error or the store's own: the
        mark may be partly made, and a repeat is safe (what is marked stays marked)."""
        inbox = Inbox(self._redis, self._keys, self._store.store, self._timeout)
        tenant, user = identity.tenant_id, identity.user_id
        if asked.ids is None:
            done = await inbox.mark_all(tenant, user, asked.mark)
            return protocol.mark_ok(asked.mark, None, [], done.changed, done.state.seq)
        done = await inbox.mark(tenant, user, asked.ids, asked.mark)
        found = set(done.found)
        return protocol.mark_ok(asked.mark, done.found,
                                [i for i in asked.ids if i not in found], done.changed,
                                done.state.seq)
