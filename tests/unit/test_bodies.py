"""Body → event validation without HTTP: occurredAt's type and window, capped error details,
and the early refusal of objects with more keys than the schema has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
import pytest

from producer.bodies import validate_body
from producer.errors import MAX_DETAILS, HttpError, error_body, parse_json
from producer.ingest.accept import Ingest
from producer.ingest.publisher import Publisher
from producer.schemas import EventIn, LikeIn, OccurredWindow

pytestmark = pytest.mark.unit

LIKE = {"type": "LIKE", "actorId": "alice", "targetId": "bob", "postId": "p1"}
INGEST = Ingest(cast(Publisher, None), 2, OccurredWindow(3600, 60))


def refused(body: dict[str, Any]) -> HttpError:
    with pytest.raises(HttpError) as info:
        INGEST.validate(body)
    assert info.value.status == 422
    assert info.value.code == "invalid_event"
    return info.value


def ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


@pytest.mark.parametrize(
    "occurred",
    [1764582000, 1764582000.5, "1764582000", "2026-11-21", "2026-11-21T12:00:00", "yesterday",
     "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00",
     "0001-01-01T00:00:00+01:00", True, {"at": "2026-11-21T12:00:00Z"}],
)
def test_occurred_at_must_be_an_iso_8601_string_near_now(occurred: object) -> None:
    error = refused({**LIKE, "occurredAt": occurred})
    assert [d["field"] for d in error.details] == ["occurredAt"]


@pytest.mark.parametrize(("seconds", "ok"), [(3500, True), (3700, False), (-30, True),
                                             (-120, False)])
def test_occurred_at_window_is_the_configured_one(seconds: float, ok: bool) -> None:
    body = {**LIKE, "occurredAt": ago(seconds)}
    if ok:
        event = INGEST.validate(body).to_event()
        assert event.occurredAt.tzinfo == UTC
    else:
        assert refused(body).details[0]["field"] == "occurredAt"


def test_occurred_at_in_another_zone_is_kept_in_utc() -> None:
    local = (datetime.now(UTC) - timedelta(minutes=5)).astimezone()
    event = INGEST.validate({**LIKE, "occurredAt": local.isoformat()}).to_event()
    assert event.occurredAt == local
    assert event.occurredAt.utcoffset() == timedelta(0)


def test_90000_unknown_keys_are_refused_before_pydantic_with_20_details() -> None:
    body = {f"k{i:05}": 1 for i in range(90_000)}
    error = refused(body)
    assert len(error.details) == MAX_DETAILS
    assert error.omitted == 90_000 - MAX_DETAILS
    assert error_body(error)["detailsOmitted"] == 90_000 - MAX_DETAILS
    assert len(orjson.dumps(error_body(error))) < 4096


def test_many_bad_ids_list_20_details_and_count_the_rest() -> None:
    error = refused({**LIKE, "targetId": None, "targetIds": ["bad id"] * 1000})
    assert len(error.details) == MAX_DETAILS
    assert error.omitted > 0
    assert len(orjson.dumps(error_body(error))) < 4096


def test_a_long_unknown_key_is_cut_in_the_answer() -> None:
    error = refused({**LIKE, "x" * 100_000: 1})
    assert len(orjson.dumps(error_body(error))) < 1024


async def test_batch_answers_list_at_most_100_details_in_all() -> None:
    items = [{f"k{i}": 1 for i in range(25)} for _ in range(50)]
    results = await INGEST.accept_many(items)
    listed = sum(len(r["details"]) for r in results)
    assert listed == 5 * MAX_DETAILS
    assert sum(len(r["details"]) + r.get("detailsOmitted", 0) for r in results) == 50 * 25


def test_seed_models_refuse_extra_keys_early_too() -> None:
    with pytest.raises(HttpError) as info:
        validate_body(LikeIn, {**LIKE, "occurredAt": ago(0), "a": 1, "b": 2, "c": 3}, "c", "m")
    assert {d["field"] for d in info.value.details} == {"occurredAt", "a", "b", "c"}


def test_duplicated_key_is_400_invalid_json_naming_it() -> None:
    with pytest.raises(HttpError) as info:
        parse_json(b'{"events":[{"actorId":"a","actorId":"b"}]}')
    assert (info.value.status, info.value.code) == (400, "invalid_json")
    assert info.value.details == [{"field": "events.0.actorId", "message": "duplicated key"}]
    assert "actorId" in info.value.message


def test_eventin_without_a_context_uses_the_default_window() -> None:
    with pytest.raises(ValueError, match="occurredAt"):
        EventIn.model_validate({**LIKE, "occurredAt": ago(400 * 86400)})
