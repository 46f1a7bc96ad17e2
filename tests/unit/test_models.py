from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from common.models import BROADCAST, Event, EventType, is_topic_name, notification_id
from producer.schemas import BatchIn, CommentIn, EventIn, LikeIn

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def event(**over: object) -> Event:
    body = {"eventId": "e1", "type": "LIKE", "actorId": "a", "recipients": ["b"],
            "postId": "p1", "occurredAt": NOW, "acceptedAt": NOW}
    body.update(over)
    return Event.model_validate(body)


def test_notification_id_is_derived_from_tenant_event_and_recipient() -> None:
    one = notification_id("t", "e1", "u1")
    assert one == notification_id("t", "e1", "u1")
    assert len({one, notification_id("t", "e1", "u2"), notification_id("t", "e2", "u1"),
                notification_id("t2", "e1", "u1")}) == 4


def test_event_round_trips_through_json() -> None:
    original = event(recipients=["b", "c"])
    assert Event.model_validate_json(original.model_dump_json()) == original


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"actorId": 5}, "actorId"),
        ({"actorId": "has space"}, "actorId"),
        ({"actorId": "x" * 129}, "actorId"),
        ({"tenantId": "a:b"}, "tenantId"),
        ({"recipients": ["b", "b"]}, "recipients"),
        ({"recipients": ["u{1}"]}, "recipients.0"),
        ({"type": "UN LIKE"}, "type"),
        ({"type": "1LIKE"}, "type"),
        ({"data": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": 1}}}}}}}}}}}, "data"),
        ({"occurredAt": "2026-11-21T12:00:00"}, "occurredAt"),
    ],
)
def test_event_rejects_bad_fields(over: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        event(**over)
    locations = {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}
    assert field in locations


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"recipients": ["a"]}, "actorId must not be one of the recipients"),
        ({"postId": None}, "postId is required for LIKE"),
        ({"type": "COMMENT", "text": "  "}, "text is required for COMMENT"),
        ({"type": "SYSTEM", "postId": None}, "text is required for SYSTEM"),
    ],
)
def test_event_type_rules(over: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        event(**over)


def test_times_are_normalised_to_utc() -> None:
    plus_two = datetime(2026, 11, 21, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert event(occurredAt=plus_two).occurredAt == NOW
    assert event(occurredAt=plus_two).occurredAt.tzinfo == UTC


def test_event_in_needs_exactly_one_target_form() -> None:
    one_of = "exactly one of targetId, targetIds and topic"
    with pytest.raises(ValidationError, match=one_of):
        EventIn.model_validate({"type": "FOLLOW", "actorId": "a"})
    with pytest.raises(ValidationError, match=one_of):
        EventIn.model_validate({"type": "FOLLOW", "actorId": "a", "targetId": "b",
                                "targetIds": ["c"]})
    for target in ({"targetId": "b"}, {"targetIds": ["b"]}):
        with pytest.raises(ValidationError, match=one_of):
            EventIn.model_validate({"type": "FOLLOW", "actorId": "a", "topic": "t", **target})
    with pytest.raises(ValidationError, match="targetIds must be unique"):
        EventIn.model_validate({"type": "FOLLOW", "actorId": "a", "targetIds": ["b", "b"]})


def test_an_event_lists_recipients_or_names_a_topic() -> None:
    with pytest.raises(ValidationError, match="recipients must not be empty"):
        event(recipients=[])
    with pytest.raises(ValidationError, match="lists no recipients"):
        event(topic="followers:a")
    for topic in ("followers:a", "*", "team@acme.eng", "x" * 128, "0"):
        assert event(recipients=[], topic=topic).topic == topic


@pytest.mark.parametrize("topic", ["", "**", ":x", "a b", "x" * 129, "a/b", "a\n", "é", 5])
def test_a_bad_topic_is_refused_by_the_event_and_the_body(topic: object) -> None:
    with pytest.raises(ValidationError) as info:
        event(recipients=[], topic=topic)
    assert "topic" in {str(e["loc"][0]) for e in info.value.errors() if e["loc"]}
    with pytest.raises(ValidationError) as info:
        EventIn.model_validate({"type": "FOLLOW", "actorId": "a", "topic": topic})
    assert [e["loc"] for e in info.value.errors()] == [("topic",)]


def test_an_event_in_with_a_topic_makes_an_event_without_recipients() -> None:
    body = EventIn.model_validate({"type": "SYSTEM", "actorId": "ops", "topic": "*",
                                   "text": "maintenance at noon"})
    made = body.to_event(NOW)
    assert (made.recipients, made.topic) == ([], "*")
    assert Event.model_validate_json(made.model_dump_json()) == made
    plain = EventIn.model_validate({"type": "FOLLOW", "actorId": "a", "targetId": "b"})
    assert plain.to_event(NOW).topic is None


def test_is_topic_name_is_the_pattern_and_never_the_broadcast() -> None:
    assert all(map(is_topic_name, ["followers:alice", "a.b-c_d@e:f"]))
    assert not any(map(is_topic_name, [BROADCAST, "a\n", None, ""]))


def test_event_in_forbids_unknown_fields_and_wrong_types() -> None:
    with pytest.raises(ValidationError) as info:
        EventIn.model_validate({"type": "FOLLOW", "actorId": "a", "targetId": "b", "x": 1})
    assert info.value.errors()[0]["loc"] == ("x",)
    with pytest.raises(ValidationError) as info:
        EventIn.model_validate({"type": "FOLLOW", "actorId": ["a"], "targetId": "b"})
    assert info.value.errors()[0]["loc"] == ("actorId",)


def test_event_in_to_event_keeps_given_id_or_makes_one() -> None:
    given = EventIn.model_validate({"eventId": "mine", "type": "FOLLOW", "actorId": "a",
                                    "targetIds": ["b", "c"]}).to_event(NOW)
    assert (given.eventId, given.recipients, given.acceptedAt) == ("mine", ["b", "c"], NOW)
    made = EventIn.model_validate({"type": "FOLLOW", "actorId": "a", "targetId": "b"})
    assert made.to_event().eventId != made.to_event().eventId


@pytest.mark.parametrize("body", [
    {"type": "LIKE", "actorId": "a", "targetId": "b", "postId": "p1"},
    {"type": "COMMENT", "actorId": "a", "targetIds": ["b", "c"], "postId": "p1",
     "commentId": "c9", "text": "nice", "tenantId": "t-1", "eventId": "e.1@x"},
    {"type": "FOLLOW", "actorId": "a", "targetId": "b",
     "occurredAt": "2026-11-21T10:00:00.123456+05:30"},
    {"type": "SYSTEM", "actorId": "ops", "targetIds": ["u1"], "text": "maintenance"},
    {"type": "MENTION", "actorId": "a", "targetId": "b", "text": "  "},
])
def test_to_event_builds_what_event_validation_would(body: dict[str, object]) -> None:
    """``to_event`` skips validating the envelope again; it must equal a validated one."""
    built = EventIn.model_validate(body).to_event()
    validated = Event.model_validate_json(built.model_dump_json())
    assert built == validated
    assert built.model_dump() == validated.model_dump()
    assert built.occurredAt.utcoffset() == timedelta(0)


def test_seed_bodies_map_to_events() -> None:
    like = LikeIn.model_validate({"actorId": "a", "targetId": "b", "postId": "p1",
                                  "type": "LIKE"}).to_event_in()
    assert (like.type, like.postId, like.recipients) == (EventType.LIKE, "p1", ["b"])
    comment = CommentIn.model_validate({"actorId": "a", "targetId": "b", "postId": "p1",
                                        "text": "nice"}).to_event_in()
    assert (comment.type, comment.text) == (EventType.COMMENT, "nice")
    with pytest.raises(ValidationError):
        LikeIn.model_validate({"actorId": "a", "targetId": "b", "postId": "p1",
                               "type": "COMMENT"})


def test_batch_needs_a_list_of_events() -> None:
    with pytest.raises(ValidationError):
        BatchIn.model_validate({"events": []})
    with pytest.raises(ValidationError):
        BatchIn.model_validate([{"type": "LIKE"}])


@pytest.mark.parametrize(
    "fields",
    [{}, {"s": "acked", "t": "1"}, {"n": "{}", "s": "lost", "t": "1"},
     {"n": "{}", "s": "acked", "t": "99999999999999999999"},
     {"n": "{}", "s": "pending", "t": "1"}, {"n": "not json", "s": "acked", "t": "1"}],
)
def test_malformed_stream_entries_raise_value_error(fields: dict[str, str]) -> None:
    from tests.support.reference import decode_entry

    with pytest.raises(ValueError):  # noqa: PT011 - the message differs per input; the type is the contract
        decode_entry(fields)
