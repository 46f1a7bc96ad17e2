"""The held buffer's member and entry formats (:mod:`common.buffer.held`): each encoder and its
decoder agree, and a body no writer makes is handed on whole (the release's validation
dead-letters it) rather than dropped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.buffer.held import decode_held, encode_held, held_member, parse_held_member

pytestmark = pytest.mark.unit

ids = st.from_regex(r"[A-Za-z0-9._@-]{1,40}", fullmatch=True)


@given(tenant=ids, user=ids, nid=ids)
def test_member_round_trip(tenant: str, user: str, nid: str) -> None:
    assert parse_held_member(held_member(tenant, user, nid)) == (tenant, user, nid)


@pytest.mark.parametrize("member", ["", "a|b", "a||c", "a|b|c|d", "|b|c"])
def test_a_member_no_writer_makes_is_refused(member: str) -> None:
    assert parse_held_member(member) is None


@given(event=st.text(st.characters(exclude_categories=["Cs"]), max_size=200),
       held=st.integers(0, 2**50), release=st.integers(0, 2**50))
def test_entry_round_trip_keeps_the_event_exactly(event: str, held: int, release: int) -> None:
    assert decode_held(encode_held(event, held, release), 7) == (event, held, release)
    # the AMQP body as received (bytes)
    assert decode_held(encode_held(event.encode(), held, release), 7)[0] == event


@pytest.mark.parametrize("body", [b"not json", b'{"e": 1}', b'{"event": 5}', b"[]"])
def test_a_body_no_writer_makes_is_handed_on_whole(body: bytes) -> None:
    assert decode_held(body, 42) == (body.decode(), 0, 42)
