"""docs/asyncapi.yaml against the code: the gateway's frame types, frames, error codes and close
codes (ws_gateway/protocol.py), the Python client's close policy, and the AMQP event and the
notification (common/models.py). The document itself is validated by ``npm test`` in
clients/js (@asyncapi/parser); the JavaScript SDK is checked by clients/js/test/asyncapi.test.js.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

from common.inbox import InboxState
from common.models import TYPE_PATTERN, Event, EventType, Notification, Priority
from common.records import InboxCounts, Mark
from ws_gateway import protocol

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOC: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text("utf-8"))
SCHEMAS = DOC["components"]["schemas"]
CLOSE_CODES = {c["name"]: c for c in DOC["channels"]["gateway"]["x-close-codes"]}


def validate(instance: Any, schema_name: str) -> None:
    """``instance`` against ``#/components/schemas/<schema_name>`` (refs resolve in the doc)."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": DOC["components"]}
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    ).validate(instance)


def frame_types(action: str) -> dict[str, list[str]]:
    """Frame type → the schema names of its payload, for the gateway's operations of one
    action."""
    out: dict[str, list[str]] = {}
    for op in DOC["operations"].values():
        if op["action"] != action or op["channel"]["$ref"] != "#/channels/gateway":
            continue
        for ref in op["messages"]:
            key = ref["$ref"].rsplit("/", 1)[1]
            message_ref = DOC["channels"]["gateway"]["messages"][key]["$ref"]
            message = DOC["components"]["messages"][message_ref.rsplit("/", 1)[1]]
            payload = message["payload"]
            names = [r["$ref"].rsplit("/", 1)[1] for r in payload.get("oneOf", [payload])]
            for name in names:
                out.setdefault(SCHEMAS[name]["properties"]["type"]["const"], []).append(name)
    return out


def test_frame_types_both_ways() -> None:
    assert set(frame_types("receive")) == {"AUTH", "ACK", "MARK", "MARK_ALL"}
    assert set(frame_types("send")) == {"AUTH_OK", "NOTIFICATION", "NOTIFICATION_UPDATE",
                                         "ACK_OK", "MARK_OK", "INBOX_STATE", "ERROR"}
    assert protocol.__doc__ is not None
    for kind in ("AUTH_OK", "NOTIFICATION", "ACK_OK", "ERROR", "AUTH", "ACK", "MARK",
                 "MARK_ALL", "MARK_OK", "INBOX_STATE"):
        assert kind in protocol.__doc__


def test_the_gateways_close_codes_are_documented() -> None:
    constants = {name.removeprefix("CLOSE_"): getattr(protocol, name)
                 for name in protocol.__all__ if name.startswith("CLOSE_")}
    assert len(constants) == 8
    for name, code in constants.items():
        assert CLOSE_CODES[name]["code"] == code, name


def test_the_python_clients_close_policy_is_the_documents() -> None:
    policy = pytest.importorskip("herald_client.policy")
    for entry in CLOSE_CODES.values():
        assert policy.after_close(entry["code"], True).value == entry["clientAction"], entry


def _note() -> Notification:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Notification(id="6f1c6c1e-2b8a-4c55-9a3e-5b0d6f1e4a17", tenantId="default",
                        userId="bob", type=EventType.LIKE, actorId="alice", eventId="e1",
                        postId="p1", message="alice liked your post",
                        priority=Priority.PROMOTIONAL, createdAt=now,
                        expiresAt=now + timedelta(days=1))


def test_every_frame_the_gateway_sends_fits_the_document() -> None:
    validate(orjson.loads(protocol.auth_ok("bob", "default", 3)), "AuthOkFrame")
    validate(orjson.loads(protocol.notification_frame(_note().model_dump_json())),
             "NotificationFrame")
    digest = _note().model_copy(update={"version": 3, "count": 3,
                                        "actors": ["carol", "dave", "alice"]})
    validate(orjson.loads(protocol.notification_update_frame(digest.model_dump_json())),
             "NotificationUpdateFrame")
    validate(orjson.loads(protocol.ack_ok(["a"], ["b"])), "AckOkFrame")
    validate(orjson.loads(protocol.error("TRY_AGAIN", "later", ["a"])), "ErrorFrame")
    validate(orjson.loads(protocol.error("TRY_AGAIN", "later", ["a"], Mark.READ)), "ErrorFrame")
    validate(orjson.loads(protocol.error("TRY_AGAIN", "later", None, Mark.SEEN)), "ErrorFrame")
    validate(orjson.loads(protocol.mark_ok(Mark.READ, ["a"], ["b"], 1, 4)), "MarkOkFrame")
    validate(orjson.loads(protocol.mark_ok(Mark.SEEN, None, [], 12, 5)), "MarkOkFrame")
    at = datetime(2026, 1, 2, tzinfo=UTC)
    for ids in (("a", "b"), None):
        state = InboxState(3, Mark.ARCHIVED, ids, at, InboxCounts(1, 2)).to_json()
        frame = protocol.inbox_state_frame(state)
        assert frame is not None
        validate(orjson.loads(frame), "InboxStateFrame")
    with pytest.raises(jsonschema.ValidationError):
        validate({"type": "AUTH_OK", "userId": "bob"}, "AuthOkFrame")


def test_every_error_code_the_gateway_sends_is_documented() -> None:
    sources = [ROOT / "ws_gateway" / "protocol.py", ROOT / "ws_gateway" / "session_core.py",
               ROOT / "common" / "auth.py"]
    pattern = re.compile(
        r'(?:FrameError|AuthError|protocol\.error|_refuse\([\w.]+,)\(?\s*"([A-Z_]+)"')
    used = {code for path in sources for code in pattern.findall(path.read_text("utf-8"))}
    assert {"BAD_FRAME", "BAD_ACK", "BAD_MARK", "UNKNOWN_TYPE", "AUTH_INVALID", "AUTH_EXPIRED",
            "TRY_AGAIN", "AUTH_TIMEOUT"} <= used
    assert used <= set(SCHEMAS["ErrorFrame"]["properties"]["code"]["enum"])


def test_the_documents_client_examples_parse_and_fit() -> None:
    kinds = {"Auth": protocol.Auth, "Ack": protocol.Ack, "Mark": protocol.MarkFrame,
             "MarkAll": protocol.MarkFrame}
    for message, kind in kinds.items():
        for example in DOC["components"]["messages"][message]["examples"]:
            frame = example["payload"]
            parsed = protocol.parse(orjson.dumps(frame).decode(), max_ack_ids=1000)
            assert isinstance(parsed, kind)
            names = frame_types("receive")[frame["type"]]
            assert any(_fits(frame, name) for name in names), frame


def _fits(frame: dict[str, Any], name: str) -> bool:
    try:
        validate(frame, name)
    except jsonschema.ValidationError:
        return False
    return True


def test_the_event_and_the_notification_match_the_models() -> None:
    for model, name in ((Event, "Event"), (Notification, "Notification")):
        schema = SCHEMAS[name]
        assert set(schema["properties"]) == set(model.model_fields), name
        required = {f for f, info in model.model_fields.items() if info.is_required()}
        assert set(schema["required"]) == required, name
    now = datetime.now(UTC)
    event = Event(eventId="e1", type=EventType.COMMENT, actorId="alice", recipients=["bob"],
                  postId="p1", text="nice", occurredAt=now, acceptedAt=now)
    validate(orjson.loads(event.model_dump_json()), "Event")
    validate(orjson.loads(_note().model_dump_json()), "Notification")
    assert SCHEMAS["EventType"]["pattern"] == TYPE_PATTERN
    for kind in EventType:
        assert kind.value in SCHEMAS["EventType"]["description"]
    assert SCHEMAS["Priority"]["enum"] == [p.value for p in Priority]
