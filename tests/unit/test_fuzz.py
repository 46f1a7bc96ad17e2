"""Bounded property-based fuzzing (hypothesis) of the three parsers that take hostile bytes:

* the gateway's frame parser (:func:`ws_gateway.protocol.parse`): raises ``FrameError`` only;
* the producer's body → event path (:func:`producer.errors.parse_json`, ``Ingest.validate``,
  ``EventIn.to_event``): raises ``HttpError`` (400/422) only, its answer small, and whatever
  it accepts the consumer's :class:`~common.models.Event` accepts too;
* the persister's stream-entry decoder (:func:`persister.entries.decode`): raises
  ``ValueError`` only.

Each runs a few hundred examples, no deadline (a busy CI machine must not flake), and no
example database written into the work tree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from common.models import Event, is_id
from persister.entries import decode
from producer.errors import HttpError, error_body, parse_json
from producer.ingest.accept import Ingest
from producer.ingest.publisher import Publisher
from ws_gateway import protocol

pytestmark = pytest.mark.unit

FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
           | st.text(max_size=30))
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
IDS = st.one_of(st.from_regex(r"[A-Za-z0-9._@-]{1,8}\n?", fullmatch=True), st.text(max_size=8),
                st.integers(-(2**63), 2**63 - 1), st.none())
TIMES = st.one_of(
    st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                     "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "1700000000",
                     "2026-11-21", "2026-11-21T12:00:00", "now"]),
    st.integers(-(2**63), 2**63 - 1), st.floats(),
    st.just(datetime.now(UTC).isoformat()),
    st.integers(-400 * 86400, 3600).map(
        lambda s: (datetime.now(UTC) + timedelta(seconds=s)).isoformat()),
)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any],
            hostile: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """``base`` (valid) with up to three fields replaced by hostile values or removed: deep
    checks run only when the rest of the body is valid."""
    body = dict(base)
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(sorted(hostile)))
        if draw(st.integers(0, 4)):
            body[key] = draw(hostile[key])
        else:
            body.pop(key, None)
    return body


# --- the gateway's frame parser ---------------------------------------------------------


def frames() -> st.SearchStrategy[str | bytes]:
    structured = st.fixed_dictionaries(
        {"type": st.sampled_from(["AUTH", "ACK", "HELLO", 1, None])},
        optional={"token": JSON, "userId": IDS, "notificationId": IDS,
                  "notificationIds": st.lists(IDS, max_size=8) | JSON},
    ).map(lambda d: orjson.dumps(d).decode())
    duplicated = structured.map(lambda t: t[:-1] + ',"type":"ACK"}' if len(t) > 2 else t)
    return st.one_of(st.text(max_size=200), st.binary(max_size=50), structured, duplicated,
                     JSON.map(lambda v: orjson.dumps(v).decode()))


@FUZZ
@given(frames())
def test_the_frame_parser_raises_only_frame_errors(data: str | bytes) -> None:
    try:
        frame = protocol.parse(data, max_ack_ids=5)
    except protocol.FrameError as exc:
        refused: protocol.FrameError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.code in {"BAD_FRAME", "BAD_ACK", "UNKNOWN_TYPE"}
        return
    if isinstance(frame, protocol.Ack):
        assert 1 <= len(frame.ids) <= 5
        assert all(is_id(i) for i in frame.ids)
    else:
        assert isinstance(frame, protocol.Auth)


# --- the producer's event validator -----------------------------------------------------

INGEST = Ingest(cast(Publisher, None), retry_after_seconds=2)

EVENT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "eventId": IDS, "tenantId": IDS, "type": st.sampled_from(
        ["LIKE", "COMMENT", "FOLLOW", "MENTION", "SYSTEM", "like", 3]),
    "actorId": IDS, "targetId": IDS, "targetIds": st.lists(IDS, max_size=4) | JSON,
    "postId": IDS, "commentId": IDS, "text": st.text(max_size=20) | JSON, "occurredAt": TIMES,
    "extra": JSON,
}


VALID_EVENT = {"eventId": "e1", "type": "COMMENT", "actorId": "alice", "targetId": "bob",
               "postId": "p1", "text": "hi"}


def bodies() -> st.SearchStrategy[bytes]:
    structured = st.fixed_dictionaries({}, optional=EVENT_FIELDS).map(orjson.dumps)
    near_valid = mutated(VALID_EVENT, EVENT_FIELDS).map(orjson.dumps)
    return st.one_of(st.binary(max_size=100), st.text(max_size=100).map(str.encode),
                     structured, near_valid, JSON.map(orjson.dumps))


@FUZZ
@given(bodies())
@example(orjson.dumps({**VALID_EVENT, "occurredAt": "9999-12-31T23:59:59-01:00"}))
@example(orjson.dumps({**VALID_EVENT, "occurredAt": "0001-01-01T00:00:00+01:00"}))
def test_the_event_validator_raises_only_http_errors(body: bytes) -> None:
    try:
        event = INGEST.validate(parse_json(body)).to_event()
    except HttpError as exc:
        refused: HttpError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.status in {400, 422}
        assert len(orjson.dumps(error_body(refused))) < 16_384
        return
    # What the producer publishes, the consumer's own validation accepts.
    assert Event.model_validate(event.model_dump()) == event


# --- the persister's stream-entry decoder -----------------------------------------------

NOTIFICATION_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "id": st.text(max_size=8) | JSON, "tenantId": IDS, "userId": IDS,
    "type": st.sampled_from(["LIKE", "FOLLOW", "POKE"]), "actorId": IDS, "eventId": IDS,
    "postId": IDS, "commentId": IDS, "message": st.text(max_size=20) | JSON,
    "priority": st.sampled_from(["transactional", "promotional", "x"]),
    "createdAt": TIMES, "expiresAt": TIMES,
}


VALID_NOTIFICATION = {
    "id": "n1", "tenantId": "default", "userId": "bob", "type": "LIKE", "actorId": "alice",
    "eventId": "e1", "postId": "p1", "message": "alice liked your post",
    "priority": "transactional", "createdAt": "2026-11-21T12:00:00Z",
    "expiresAt": "2026-11-22T12:00:00Z"}
OVERFLOWING = orjson.dumps({**VALID_NOTIFICATION, "createdAt": "9999-12-31T23:59:59-01:00"})


def entries() -> st.SearchStrategy[dict[bytes, bytes]]:
    notification = st.one_of(
        st.fixed_dictionaries({}, optional=NOTIFICATION_FIELDS).map(orjson.dumps),
        mutated(VALID_NOTIFICATION, NOTIFICATION_FIELDS).map(orjson.dumps),
        st.binary(max_size=60))
    fields = {b"n": notification,
              b"s": st.sampled_from([b"acked", b"expired", b"pending", b"\xff"]),
              b"t": st.one_of(st.integers().map(lambda i: str(i).encode()),
                              st.binary(max_size=12))}
    return st.fixed_dictionaries({}, optional=fields)


@FUZZ
@given(entries())
@example({b"n": OVERFLOWING, b"s": b"acked", b"t": b"1763726400000"})
def test_the_stream_entry_decoder_raises_only_value_errors(fields: dict[bytes, bytes]) -> None:
    try:
        decode(fields)
    except ValueError:
        return
