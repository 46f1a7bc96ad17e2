"""Exponential backoff with full jitter, for every "wait, then try again" in Herald."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """``next()`` gives the next delay: uniform in ``[c / 10, c]`` with
    ``c = min(maximum, initial * 2**n)`` and ``n`` the attempts so far.

    Jitter over most of the range keeps many processes that lost the same dependency from
    retrying in step; the floor of a tenth of the ceiling keeps a retry from firing at once.
    """

    initial: float = 0.1
    maximum: float = 5.0
    attempts: int = field(default=0, init=False)

    def next(self) -> float:
        ceiling = min(self.maximum, self.initial * (2 ** min(self.attempts, 30)))
        self.attempts += 1
        return random.uniform(ceiling / 10, ceiling)

    def reset(self) -> None:
        self.attempts = 0
