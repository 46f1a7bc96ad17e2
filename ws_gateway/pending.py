"""The gateway's Redis side is the buffer owner's (:mod:`common.buffer.pending`): replay a
user's pending notifications, acknowledge them (one script per user, one round trip per
batch of ACKs). Re-exported here for the gateway's own modules."""

from __future__ import annotations

from common.buffer.pending import REPLAY_CHUNK, AckOutcome, AckRequest, PendingStore

__all__ = ["REPLAY_CHUNK", "AckOutcome", "AckRequest", "PendingStore"]
