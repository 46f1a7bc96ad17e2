from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.models import Event, EventType, Notification, Priority, notification_id
from consumer.rules import (
    build_notifications,
    format_message,
    is_rate_limited,
    priority_of,
    semantic_digest,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def event(**over: object) -> Event:
    body = {"eventId": "e1", "type": "LIKE", "actorId": "alice", "recipients": ["bob"],
            "postId": "p1", "occurredAt": NOW, "acceptedAt": NOW}
    body.update(over)
    return Event.model_validate(body)


@pytest.mark.parametrize(
    ("over", "text"),
    [
        ({}, "alice liked your post"),
        ({"commentId": "c1"}, "alice liked your comment"),
        ({"type": "COMMENT", "text": "great\n\tshot"},
         'alice commented on your post: "great shot"'),
        ({"type": "FOLLOW", "postId": None}, "alice started following you"),
        ({"type": "MENTION", "text": "hey @bob"}, 'alice mentioned you: "hey @bob"'),
        ({"type": "MENTION"}, "alice mentioned you"),
        ({"type": "SYSTEM", "text": "Your  password changed"}, "Your password changed"),
    ],
)
def test_messages_read_well(over: dict[str, object], text: str) -> None:
    assert format_message(event(**over)) == text


def test_long_comments_are_cut_to_a_snippet() -> None:
    message = format_message(event(type="COMMENT", text="x" * 500))
    assert message.endswith('…"')
    assert len(message) < 130


def test_priorities() -> None:
    assert priority_of(EventType.MENTION) is Priority.TRANSACTIONAL
    assert priority_of(EventType.COMMENT) is Priority.TRANSACTIONAL
    assert priority_of(EventType.SYSTEM) is Priority.TRANSACTIONAL
    assert priority_of(EventType.LIKE) is Priority.PROMOTIONAL
    assert priority_of(EventType.FOLLOW) is Priority.PROMOTIONAL


def test_system_events_are_not_rate_limited() -> None:
    assert not is_rate_limited(EventType.SYSTEM)
    assert all(is_rate_limited(t) for t in EventType if t is not EventType.SYSTEM)


def test_semantic_digest_collapses_the_same_action() -> None:
    first = semantic_digest(event(eventId="e1"))
    assert first == semantic_digest(event(eventId="e2"))  # like, unlike, like again
    assert first != semantic_digest(event(postId="p2"))
    assert first != semantic_digest(event(actorId="carol"))
    assert first != semantic_digest(event(type="MENTION"))
    same_comment = semantic_digest(event(type="COMMENT", text="hi  there"))
    assert same_comment == semantic_digest(event(eventId="e9", type="COMMENT", text="hi there"))
    assert same_comment != semantic_digest(event(type="COMMENT", text="something else"))
    assert semantic_digest(event(type="SYSTEM", text="x")) is None


def test_build_notifications_fans_out_with_derived_ids() -> None:
    made = build_notifications(event(recipients=["bob", "carol"]), NOW, 60)
    assert [n.userId for n in made] == ["bob", "carol"]
    assert [n.id for n in made] == [notification_id("default", "e1", u) for u in ("bob", "carol")]
    for n in made:
        assert n.createdAt == NOW
        assert n.expiresAt == NOW + timedelta(seconds=60)
        assert n.priority is Priority.PROMOTIONAL
        assert n.message == "alice liked your post"
        assert n.eventId == "e1"
        assert n.actorId == "alice"
        assert n.postId == "p1"


@pytest.mark.parametrize("over", [
    {},
    {"type": "COMMENT", "text": "nice  post", "commentId": "c1", "recipients": ["bob", "eve"]},
    {"type": "SYSTEM", "text": "maintenance tonight", "postId": None, "tenantId": "t-2"},
    {"type": "FOLLOW", "postId": None},
])
def test_build_notifications_makes_what_validation_would(over: dict[str, object]) -> None:
    """Notifications are built without validation; each must equal a validated one."""
    now = datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=UTC)
    for made in build_notifications(event(**over), now, 3600):
        validated = Notification.model_validate_json(made.model_dump_json())
        assert made.model_dump() == validated.model_dump()
        assert made.createdAt.microsecond == 123000  # milliseconds, as the stores keep them
