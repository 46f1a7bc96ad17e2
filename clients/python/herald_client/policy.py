"""What the client does after a connection ends, and how long it waits first (pure).

The gateway's close codes (README, "Close codes") fall into three kinds:

* ``RECONNECT`` — the connection is worth trying again after a backoff: the gateway went away
  (1001, 1006 for a dropped TCP connection), is overloaded (1013, 4029), had an error (1011),
  or timed the client out (4002);
* ``REFRESH`` — the token was refused (4003): get a new one from ``get_token`` and reconnect;
  without ``get_token`` there is nothing new to try, so it is ``STOP``;
* ``STOP`` — the client itself is wrong (1007, 1008, 1009, 4001): reconnecting would loop.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["Action", "Backoff", "after_close"]


class Action(Enum):
    RECONNECT = "reconnect"
    REFRESH = "refresh"
    STOP = "stop"


_STOP = frozenset({1007, 1008, 1009, 4001})
_NORMAL = frozenset({1000})


def after_close(code: int | None, can_refresh: bool) -> Action:
    """The action for a connection that ended with ``code`` (None: no close frame)."""
    if code == 4003:
        return Action.REFRESH if can_refresh else Action.STOP
    if code in _STOP:
        return Action.STOP
    return Action.RECONNECT  # 1000 from the gateway too: it never closes a good client


@dataclass
class Backoff:
    """Exponential backoff with full jitter: the n-th delay is uniform in
    ``[0, min(cap, base * 2**n)]``; :meth:`reset` after a connection that authenticated."""

    base: float = 0.2
    cap: float = 10.0
    attempts: int = field(default=0, init=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2 ** min(self.attempts, 30))
        self.attempts += 1
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempts = 0
