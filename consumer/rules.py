"""The consumer's pure rules: priority, message text, semantic-dedup keys, notifications.

No I/O here; :mod:`common.buffer.inbox` and :mod:`consumer.worker` move the bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from common.models import Event, EventType, Notification, Priority, notification_id

__all__ = [
    "SNIPPET_CHARS",
    "build_notifications",
    "format_message",
    "is_rate_limited",
    "priority_of",
    "semantic_digest",
]

SNIPPET_CHARS = 80

_PRIORITY = {
    EventType.COMMENT: Priority.TRANSACTIONAL,
    EventType.MENTION: Priority.TRANSACTIONAL,
    EventType.SYSTEM: Priority.TRANSACTIONAL,
    EventType.LIKE: Priority.PROMOTIONAL,
    EventType.FOLLOW: Priority.PROMOTIONAL,
}
_SPACES = re.compile(r"\s+")


def priority_of(kind: str) -> Priority:
    """Direct conversation (comment, mention) and system messages are transactional; likes and
    follows are social signals the user can read later: promotional."""
    return _PRIORITY[EventType(kind)]


def is_rate_limited(kind: str) -> bool:
    """Per-actor limits apply to what users do, not to the platform's own SYSTEM messages."""
    return kind != EventType.SYSTEM


def _snippet(text: str | None) -> str:
    flat = _SPACES.sub(" ", text or "").strip()
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1].rstrip() + "…"


def format_message(event: Event) -> str:
    """The readable line a user sees."""
    actor = event.actorId
    match event.type:
        case EventType.LIKE:
            what = "comment" if event.commentId else "post"
            return f"{actor} liked your {what}"
        case EventType.COMMENT:
            return f'{actor} commented on your post: "{_snippet(event.text)}"'
        case EventType.FOLLOW:
            return f"{actor} started following you"
        case EventType.MENTION:
            text = _snippet(event.text)
            return f'{actor} mentioned you: "{text}"' if text else f"{actor} mentioned you"
        case EventType.SYSTEM:
            return _SPACES.sub(" ", event.text or "").strip()
    raise ValueError(f"{event.type!r} is not a built-in type")


def semantic_digest(event: Event) -> str | None:
    """What makes two events "the same thing" for one recipient within the semantic window,
    or ``None`` when every event counts (SYSTEM).

    A like/unlike/like burst on one post collapses to one notification; so do repeated
    follows, repeated mentions in one place, and an identical comment posted twice.
    """
    match event.type:
        case EventType.LIKE | EventType.MENTION:
            parts = [event.postId or "", event.commentId or ""]
        case EventType.FOLLOW:
            parts = []
        case EventType.COMMENT:
            parts = [event.postId or "", _SPACES.sub(" ", event.text or "").strip()]
        case _:
            return None
    raw = "\x1f".join([event.type, event.actorId, *parts])
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()


def build_notifications(
    event: Event, now: datetime, ttl_seconds: float,
    messages: Mapping[str, str] | None = None, priority: Priority | str | None = None,
) -> list[Notification]:
    """One notification per recipient, with ids derived from (tenant, eventId, recipient):
    those of ``messages`` (recipient → rendered text, :mod:`consumer.rendering`), in the
    event's order, or, without ``messages``, every recipient with today's fixed
    :func:`format_message` (the reference the default templates are held equal to, and the
    benchmark's baseline). ``priority``: the type's (:class:`common.catalog.TypeDef`), or
    the built-in's.

    Built without validation: every field comes from a validated :class:`Event` (tests/unit
    check that the result equals a validated notification)."""
    if messages is None:
        text = format_message(event)
        messages = dict.fromkeys(event.recipients, text)
    level = Priority(priority) if priority is not None else priority_of(event.type)
    # Milliseconds: the precision of the buffer's scores, the stream and the stores, so a
    # notification reads the same live, replayed and from history.
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    expires = now + timedelta(seconds=ttl_seconds)
    return [
        Notification.model_construct(
            id=notification_id(event.tenantId, event.eventId, recipient),
            tenantId=event.tenantId,
            userId=recipient,
            type=event.type,
            actorId=event.actorId,
            eventId=event.eventId,
            postId=event.postId,
            commentId=event.commentId,
            message=messages[recipient],
            priority=level,
            createdAt=now,
            expiresAt=expires,
            # Given, not defaulted: model_construct would look each default factory's
            # signature up again for every notification (8x the cost of the whole call).
            count=1,
            actors=[],
            version=1,
        )
        for recipient in event.recipients if recipient in messages
    ]
