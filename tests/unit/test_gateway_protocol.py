from __future__ import annotations

import base64
import hashlib
import hmac
import time

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from common.auth import AuthError, Identity, Verifier
from common.inbox import MAX_MARK_IDS
from common.records import Mark
from ws_gateway import protocol

pytestmark = pytest.mark.unit

SECRET = "s" * 40


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"binary", "BAD_FRAME"),
        ("{", "BAD_FRAME"),
        ("[1]", "BAD_FRAME"),
        ('{"type":"HELLO"}', "UNKNOWN_TYPE"),
        ('{"type":"ACK"}', "BAD_ACK"),
        ('{"type":"ACK","notificationIds":[]}', "BAD_ACK"),
        ('{"type":"ACK","notificationIds":["a b"]}', "BAD_ACK"),
        ('{"type":"ACK","notificationIds":' + orjson.dumps(["x"] * 6).decode() + "}", "BAD_ACK"),
    ],
)
def test_bad_frames_say_what_is_wrong(data: str | bytes, code: str) -> None:
    with pytest.raises(protocol.FrameError) as info:
        protocol.parse(data, max_ack_ids=5)
    assert info.value.code == code


def test_ack_forms() -> None:
    assert protocol.parse('{"type":"ACK","notificationId":"n1"}', 5) == protocol.Ack(("n1",))
    many = protocol.parse('{"type":"ACK","notificationIds":["a","b","a"]}', 5)
    assert many == protocol.Ack(("a", "b"))


def test_server_frames() -> None:
    note = '{"id":"n1","message":"hi"}'
    assert orjson.loads(protocol.notification_frame(note)) == {
        "type": "NOTIFICATION", "notification": {"id": "n1", "message": "hi"}}
    assert orjson.loads(protocol.auth_ok("u1", "t", 3)) == {
        "type": "AUTH_OK", "userId": "u1", "tenantId": "t", "pending": 3}
    assert orjson.loads(protocol.error("X", "y")) == {"type": "ERROR", "code": "X", "message": "y"}


def hs(claims: dict[str, object], secret: str = SECRET) -> str:
    return jwt.encode({"exp": int(time.time()) + 60, **claims}, secret, algorithm="HS256")


def test_hs256_tokens() -> None:
    verifier = Verifier("jwt", SECRET, None)
    assert verifier.verify({"token": hs({"sub": "u1"})}) == Identity("default", "u1")
    assert verifier.verify({"token": hs({"sub": "u1", "tid": "acme"})}) == Identity("acme", "u1")
    for bad, code in [
        (hs({"sub": "u1"}, "x" * 40), "AUTH_INVALID"),
        (jwt.encode({"sub": "u1"}, SECRET, algorithm="HS256"), "AUTH_INVALID"),  # no exp
        (hs({"sub": "u1", "exp": int(time.time()) - 60}), "AUTH_EXPIRED"),
        (hs({"sub": "u:1"}), "AUTH_INVALID"),
        (jwt.encode({"sub": "u1", "exp": int(time.time()) + 60}, "", algorithm="none"),
         "AUTH_INVALID"),
    ]:
        with pytest.raises(AuthError) as info:
            verifier.verify({"token": bad})
        assert info.value.code == code
    with pytest.raises(AuthError):
        verifier.verify({"userId": "u1"})  # not in trusted mode


def test_rs256_tokens_and_no_algorithm_confusion() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    verifier = Verifier("jwt", None, public)
    good = jwt.encode({"sub": "u1", "exp": int(time.time()) + 60}, key, algorithm="RS256")
    assert verifier.verify({"token": good}) == Identity("default", "u1")
    with pytest.raises(AuthError):  # HS256 "signed" with the public key as the secret
        verifier.verify({"token": forged_hs256({"sub": "u1"}, public.encode())})


def forged_hs256(claims: dict[str, object], secret: bytes) -> str:
    # PyJWT refuses to make this token, so it is put together by hand.
    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    body = {"exp": int(time.time()) + 60, **claims}
    signing = b64(orjson.dumps({"alg": "HS256", "typ": "JWT"})) + b"." + b64(orjson.dumps(body))
    signature = hmac.new(secret, signing, hashlib.sha256).digest()
    return (signing + b"." + b64(signature)).decode()


def test_trusted_mode_takes_a_bare_user_id() -> None:
    verifier = Verifier("trusted", None, None)
    assert verifier.verify({"userId": "u1"}) == Identity("default", "u1")
    with pytest.raises(AuthError):
        verifier.verify({"userId": 7})


def test_mark_frames_and_their_bound() -> None:
    parsed = protocol.parse('{"type":"MARK","mark":"archived","notificationIds":["a","a","b"]}',
                            max_ack_ids=5)
    assert parsed == protocol.MarkFrame(Mark.ARCHIVED, ("a", "b"))
    assert protocol.parse('{"type":"MARK_ALL","mark":"unarchived"}', max_ack_ids=5) == \
        protocol.MarkFrame(Mark.UNARCHIVED, None)
    many = orjson.dumps({"type": "MARK", "mark": "seen",
                         "notificationIds": [str(i) for i in range(MAX_MARK_IDS + 1)]})
    with pytest.raises(protocol.FrameError) as info:  # never over the inbox's own bound
        protocol.parse(many.decode(), max_ack_ids=10_000)
    assert (info.value.code, str(info.value)) == ("BAD_MARK", f"at most {MAX_MARK_IDS} ids "
                                                              "per MARK")


def test_inbox_state_frames_from_the_live_message() -> None:
    state = {"seq": 4, "mark": "read", "notificationIds": ["a"], "all": False,
             "at": "2026-01-02T03:04:05.000Z", "unseen": 1, "unread": 2}
    frame = protocol.inbox_state_frame(state)
    assert frame is not None
    assert orjson.loads(frame) == {"type": "INBOX_STATE", "seq": 4, "mark": "read",
                                   "notificationIds": ["a"], "all": False,
                                   "at": "2026-01-02T03:04:05.000Z", "unseen": 1, "unread": 2}
    bad: object
    for bad in (None, [], {**state, "seq": "4"}, {**state, "unseen": -1},
                {**state, "mark": "loved"}, {**state, "notificationIds": "a"},
                {**state, "unread": True}, {**state, "at": None}):
        assert protocol.inbox_state_frame(bad) is None
