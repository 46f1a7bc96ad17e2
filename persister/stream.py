"""The persist stream's consumer group is the buffer owner's (:mod:`common.buffer.stream`);
re-exported here for the persister's own modules."""

from __future__ import annotations

from common.buffer.stream import (
    DEAD_MAXLEN,
    Entry,
    PersistStream,
    consumer_name,
    dead_stream,
    group_name,
)

__all__ = ["DEAD_MAXLEN", "Entry", "PersistStream", "consumer_name", "dead_stream",
           "group_name"]
