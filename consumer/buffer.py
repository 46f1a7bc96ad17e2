"""The consumer's Redis side is the buffer owner's (:mod:`common.buffer.inbox`): admission
(per-actor rate limit) and buffering, one round trip per batch. Re-exported here for the
consumer's own modules."""

from __future__ import annotations

from common.buffer.inbox import Admission, AdmitRequest, BufferOutcome, NotificationBuffer, Pending

__all__ = ["Admission", "AdmitRequest", "BufferOutcome", "NotificationBuffer", "Pending"]
