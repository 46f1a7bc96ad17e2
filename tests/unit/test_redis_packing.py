"""The hiredis packer sends exactly what redis-py's own asyncio packer would."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from common.redis_packing import HiredisPackedConnection

pytestmark = pytest.mark.unit

COMMANDS: list[tuple[Any, ...]] = [
    ("PING",),
    ("SET", "k", "välue", "PX", 1000),
    ("EVALSHA", "a" * 40, 2, "herald:seen:{t:u}:id", "herald:pending:{t:u}", "id",
     '{"message":"x"}', 1_763_710_000_000, -1, 0.25, b"\x00raw bytes"),
    ("SCRIPT LOAD", "return 1"),
    (b"CLIENT SETNAME", "herald"),
    ("XADD", "stream", "*", "n", bytearray(b"abc"), "s", memoryview(b"acked")),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: str(c[0]))
def test_same_bytes_as_redis_py(command: tuple[Any, ...]) -> None:
    ours = b"".join(HiredisPackedConnection().pack_command(*command))
    theirs = b"".join(bytes(chunk) for chunk in Connection().pack_command(*command))
    assert ours == theirs


def test_pipeline_is_the_commands_in_order() -> None:
    ours = b"".join(HiredisPackedConnection().pack_commands(COMMANDS))
    theirs = b"".join(bytes(c) for c in Connection().pack_commands(COMMANDS))
    assert ours == theirs


@pytest.mark.parametrize("value", [None, True, object()])
def test_values_redis_has_no_form_for_are_refused(value: object) -> None:
    with pytest.raises(DataError):
        HiredisPackedConnection().pack_command("SET", "k", value)
