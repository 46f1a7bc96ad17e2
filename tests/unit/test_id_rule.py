"""One id rule everywhere: pydantic's ``Id``, :func:`common.models.is_id` (JWT claims, ACK ids,
read-API path and query ids), and the RFC 7519 types of a token's registered claims."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from common.auth import AuthError, Identity, Verifier
from common.models import Id, is_id
from ws_gateway import protocol

pytestmark = pytest.mark.unit

SECRET = "s" * 40
ID = TypeAdapter(Id)


def pydantic_accepts(value: object) -> bool:
    try:
        ID.validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("value", ["bob\n", "bob\n\n", "\nbob", "bo b", "", "x" * 129, "a{b}",
                                   "a\x00", "bob\r", 5, None, ["bob"]])
def test_is_id_refuses_what_the_http_api_refuses(value: object) -> None:
    assert not is_id(value)
    assert not pydantic_accepts(value)


@pytest.mark.parametrize("value", ["bob", "a.b_c-d@e", "x" * 128, "0"])
def test_is_id_accepts_what_the_http_api_accepts(value: str) -> None:
    assert is_id(value)
    assert pydantic_accepts(value)


@settings(max_examples=200, deadline=None, database=None)
@given(st.one_of(st.text(max_size=140), st.from_regex(r"[A-Za-z0-9._@-]{1,128}\n?",
                                                      fullmatch=True)))
def test_is_id_and_pydantic_agree_on_any_string(value: str) -> None:
    assert is_id(value) == pydantic_accepts(value)


def signed(**claims: Any) -> dict[str, object]:
    body: dict[str, Any] = {"sub": "bob", "exp": int(time.time()) + 300, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return {"token": jwt.encode(body, SECRET, algorithm="HS256")}


VERIFIER = Verifier("jwt", SECRET, None)


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"sub": "bob\n"}, "AUTH_INVALID"),  # the reported case: accepted by the gateway once
        ({"tid": "acme\n"}, "AUTH_INVALID"),
        ({"sub": 42}, "AUTH_INVALID"),
        ({"tid": 7}, "AUTH_INVALID"),
        ({"exp": "9999999999"}, "AUTH_INVALID"),  # PyJWT alone coerces it with int()
        ({"exp": "1"}, "AUTH_INVALID"),  # the type is wrong before the time is
        ({"exp": True}, "AUTH_INVALID"),
        ({"exp": [9999999999]}, "AUTH_INVALID"),
        ({"nbf": "0"}, "AUTH_INVALID"),
        ({"iat": "0"}, "AUTH_INVALID"),
        ({"nbf": time.time() + 3600}, "AUTH_INVALID"),
        ({"iat": time.time() + 3600}, "AUTH_INVALID"),
        ({"exp": int(time.time()) - 10}, "AUTH_EXPIRED"),
        ({"exp": None}, "AUTH_INVALID"),  # required
    ],
)
def test_bad_claims_are_refused(claims: dict[str, Any], code: str) -> None:
    with pytest.raises(AuthError) as info:
        VERIFIER.verify(signed(**claims))
    assert info.value.code == code


def test_numeric_claims_of_either_json_number_kind_are_accepted() -> None:
    now = time.time()
    frame = signed(exp=now + 300.5, nbf=int(now) - 5, iat=now - 1.5, tid="acme")
    assert VERIFIER.verify(frame) == Identity("acme", "bob")


def test_huge_exp_is_a_number_and_accepted() -> None:
    assert VERIFIER.verify(signed(exp=10**30)) == Identity("default", "bob")


def test_trusted_mode_refuses_an_id_with_a_newline() -> None:
    trusted = Verifier("trusted", None, None)
    with pytest.raises(AuthError) as info:
        trusted.verify({"userId": "bob\n"})
    assert info.value.code == "AUTH_INVALID"
    with pytest.raises(AuthError):
        trusted.verify({"userId": "bob", "tenantId": "t\n"})
    assert trusted.verify({"userId": "bob"}) == Identity("default", "bob")


def test_ack_ids_obey_the_id_rule() -> None:
    with pytest.raises(protocol.FrameError) as info:
        protocol.parse('{"type":"ACK","notificationId":"n1\\n"}', max_ack_ids=5)
    assert info.value.code == "BAD_ACK"
    assert protocol.parse('{"type":"ACK","notificationId":"n1"}', max_ack_ids=5) == \
        protocol.Ack(("n1",))
