"""The buffer's member and stream-entry formats (:mod:`common.buffer.formats`): each encoder
and its decoder agree, and what no writer makes is refused with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from common.buffer.formats import (
    decode_entry,
    encode_entry,
    erasure_member,
    expiry_member,
    parse_erasure_member,
    parse_expiry_member,
)
from common.buffer.keys import MAX_SHARDS, BufferKeys
from common.models import ID_PATTERN
from common.records import Status
from tests.support.buffer import note

pytestmark = pytest.mark.unit


def _bytes(fields: dict[str, str]) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in fields.items()}


def test_an_entry_round_trips_with_and_without_read_at() -> None:
    n = note("e1")
    row = decode_entry(_bytes(encode_entry(n.model_dump_json(), Status.ACKED, 1000)))
    assert (row.id, row.status, row.status_ms, row.read_ms) == (n.id, "acked", 1000, None)
    read = decode_entry(_bytes(encode_entry(n.model_dump_json(), Status.EXPIRED, 5, 7)))
    assert (read.status, read.status_ms, read.read_ms) == ("expired", 5, 7)


@pytest.mark.parametrize(("change", "reason"), [
    ({"r": "soon"}, "r b'soon' is not an integer"),
    ({"r": str(10**20)}, "out of range"),
    ({"s": "pending"}, "is not acked or expired"),
])
def test_a_bad_entry_says_what_is_wrong(change: dict[str, str], reason: str) -> None:
    fields = {**encode_entry(note("e1").model_dump_json(), Status.ACKED, 1), **change}
    with pytest.raises(ValueError, match=reason):
        decode_entry(_bytes(fields))


def test_members_round_trip_and_malformed_ones_are_none() -> None:
    member = expiry_member("t", "u", "n1").encode()
    parsed = parse_expiry_member(member, 12.0)
    assert parsed is not None
    assert (parsed.tenant, parsed.user, parsed.notification_id, parsed.expires_ms) == (
        "t", "u", "n1", 12)
    assert parse_expiry_member(b"t|u", 1) is None
    assert parse_expiry_member(b"t||n", 1) is None
    assert parse_erasure_member(erasure_member("t", "u")) == ("t", "u")
    assert parse_erasure_member(b"t|") is None


def test_a_users_keys_share_one_hash_tag() -> None:
    keys = BufferKeys("p")
    tags = {k[k.index("{"):k.index("}") + 1] for k in (
        keys.pending_hash("t", "u"), keys.pending_index("t", "u"), keys.seen_key("t", "u", "n"),
        keys.semantic_key("t", "u", "d"), keys.erased_marker("t", "u"),
        keys.rate_limit_key("t", "u"), keys.live_channel("t", "u"),
        keys.persist_stream_of("t", "u"))}
    assert tags == {"{0}"}
    assert keys.pending_hash("t", "u") == "p:pending:{0}:t:u"
    assert keys.persist_streams == [keys.persist_stream] == ["p:persist:{0}"]
    assert keys.seen_id(keys.seen_key("t", "u", "n-1")) == "n-1"
    assert keys.seen_pattern("t", "u") == "p:seen:{0}:t:u:*"


@given(st.from_regex(ID_PATTERN, fullmatch=True), st.from_regex(ID_PATTERN, fullmatch=True))
def test_with_shards_a_user_and_their_stream_share_one_slot(tenant: str, user: str) -> None:
    keys = BufferKeys("p", 16)
    slots = {key_slot(k.encode()) for k in (
        keys.pending_hash(tenant, user), keys.pending_index(tenant, user),
        keys.seen_key(tenant, user, "n"), keys.semantic_key(tenant, user, "d"),
        keys.erased_marker(tenant, user), keys.rate_limit_key(tenant, user),
        keys.persist_stream_of(tenant, user))}
    assert len(slots) == 1
    assert keys.persist_stream_of(tenant, user) in keys.persist_streams
    assert keys.shard(tenant, user) == BufferKeys("other", 16).shard(tenant, user)  # stable


def test_shards_spread_users_and_are_bounded() -> None:
    keys = BufferKeys("p", 16)
    assert len({keys.shard("t", f"user-{n}") for n in range(1000)}) == 16
    assert len({key_slot(k.encode()) for k in keys.persist_streams}) == 16
    for bad in (0, -1, MAX_SHARDS + 1):
        with pytest.raises(ValueError, match="shards"):
            BufferKeys("p", bad)
