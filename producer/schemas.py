"""HTTP request bodies: the v1 API and the seed's simulation routes.

Bodies are strict: a field of the wrong type, an unknown field or a missing one is a 422 that
names it (the seed answered 200 to wrongly typed bodies and dropped them later).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from common.models import (
    MAX_RECIPIENTS,
    MAX_TEXT,
    Event,
    EventType,
    Id,
    check_type_rules,
    utc_now,
)

__all__ = ["BatchIn", "CommentIn", "EventIn", "FollowIn", "LikeIn"]

Text = Annotated[str, StringConstraints(strict=True, max_length=MAX_TEXT)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventIn(_Strict):
    """``POST /v1/events``. Exactly one of ``targetId`` and ``targetIds``."""

    eventId: Id | None = None
    tenantId: Id = "default"
    type: EventType
    actorId: Id
    targetId: Id | None = None
    targetIds: Annotated[list[Id], Field(min_length=1, max_length=MAX_RECIPIENTS)] | None = None
    postId: Id | None = None
    commentId: Id | None = None
    text: Text | None = None
    occurredAt: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.targetId is None) == (self.targetIds is None):
            raise ValueError("give exactly one of targetId and targetIds")
        recipients = self.recipients
        if len(set(recipients)) != len(recipients):
            raise ValueError("targetIds must be unique")
        check_type_rules(self.type, self.actorId, recipients, self.postId, self.text)
        return self

    @property
    def recipients(self) -> list[str]:
        return [self.targetId] if self.targetId is not None else list(self.targetIds or [])

    def to_event(self, accepted_at: datetime | None = None) -> Event:
        """The envelope to publish. Built without validating again: this body has passed the
        same field and type rules :class:`Event` checks (tests/unit hold the two in step)."""
        now = accepted_at or utc_now()
        occurred = self.occurredAt.astimezone(UTC) if self.occurredAt is not None else now
        return Event.model_construct(
            eventId=self.eventId or str(uuid.uuid4()),
            tenantId=self.tenantId,
            type=self.type,
            actorId=self.actorId,
            recipients=self.recipients,
            postId=self.postId,
            commentId=self.commentId,
            text=self.text,
            occurredAt=occurred,
            acceptedAt=now,
        )


class BatchIn(_Strict):
    """``POST /v1/events/batch``: items are validated one by one, so this holds raw objects."""

    events: Annotated[list[Any], Field(min_length=1)]


class _SeedIn(_Strict):
    eventId: Id | None = None
    tenantId: Id = "default"
    actorId: Id
    targetId: Id


class LikeIn(_SeedIn):
    """``POST /like`` as the seed took it."""

    postId: Id
    type: Literal["LIKE"] = "LIKE"

    def to_event_in(self) -> EventIn:
        return EventIn(eventId=self.eventId, tenantId=self.tenantId, type=EventType.LIKE,
                       actorId=self.actorId, targetId=self.targetId, postId=self.postId)


class CommentIn(_SeedIn):
    """``POST /comment`` as the seed took it."""

    postId: Id
    text: Text
    commentId: Id | None = None

    def to_event_in(self) -> EventIn:
        return EventIn(eventId=self.eventId, tenantId=self.tenantId, type=EventType.COMMENT,
                       actorId=self.actorId, targetId=self.targetId, postId=self.postId,
                       commentId=self.commentId, text=self.text)


class FollowIn(_SeedIn):
    """``POST /follow`` as the seed took it."""

    def to_event_in(self) -> EventIn:
        return EventIn(eventId=self.eventId, tenantId=self.tenantId, type=EventType.FOLLOW,
                       actorId=self.actorId, targetId=self.targetId)
