"""The slot rule, checked while the buffer's own tests run (``tests/integration/test_buffer_*``):
they run once with one shard and once with sixteen, and every script call they make must
name keys of one Redis Cluster hash slot (:mod:`common.buffer.keys`)."""

from __future__ import annotations

from typing import Any

import pytest
from redis.crc import key_slot

from common.buffer.scripts import RoundTrip, Script
from common.naming import Names

__all__ = ["SHARDS", "check_slots", "sharded_names"]

SHARDS = (1, 16)


@pytest.fixture(name="names", params=SHARDS, ids=[f"{n}-shard" for n in SHARDS])
def sharded_names(request: pytest.FixtureRequest, prefix: str) -> Names:
    """The run's names with one shard, then with sixteen."""
    return Names(prefix, int(request.param))


@pytest.fixture(name="slot_rule", autouse=True)
def check_slots(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any script call whose keys are in more than one slot; yields the names of the
    scripts called (so a test can tell the check ran)."""
    called: list[str] = []
    original = RoundTrip.script

    def checked(self: RoundTrip, script: Script, keys: list[str], args: list[Any]) -> int:
        slots = {key_slot(key.encode()) for key in keys}
        assert len(slots) <= 1, f"{script.name}.lua: keys in {len(slots)} slots: {keys}"
        called.append(script.name)
        return original(self, script, keys, args)

    monkeypatch.setattr(RoundTrip, "script", checked)
    return called
