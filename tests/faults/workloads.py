"""What the ledger sends, to whom, and what each recipient asked for before the stream.

The plain workload (every fault but the three below): each event a ``LIKE`` of a post of its
own (``p<n>``), to the ten users in turn — each event is one notification of its own. The
others shape the same stream to drive one of issue 19's paths under a fault:

* ``quiet``: the first ``quiet`` users have quiet hours covering now (an hour ago to an hour
  from now, UTC), set through the producer's API before the stream: their events are held.
* ``muted``: the first ``muted`` users turned ``LIKE`` off through the API: their events
  make nothing (``muted``).
* ``digest_posts``: every user's likes fall on ``digest_posts`` posts of theirs (``d0`` …),
  each by actors ``fan<k>`` where about one like in five is an actor's second like of that
  post: one digest per (user, post), counting its distinct actors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

__all__ = ["REPEAT_EVERY", "Workload", "quiet_hours_now"]

REPEAT_EVERY = 5
"""In a digest workload, the k-th like of a post is by ``fan<k * 4 // 5>``: one like in five
repeats the actor of the like before it."""


def quiet_hours_now(now: datetime | None = None) -> dict[str, str]:
    """Quiet hours from an hour ago to an hour from now, in UTC (a user without a profile
    zone is in UTC): quiet now, whatever the time of day (across midnight too)."""
    now = now or datetime.now(UTC)
    return {"start": (now - timedelta(hours=1)).strftime("%H:%M"),
            "end": (now + timedelta(hours=1)).strftime("%H:%M")}


@dataclass(frozen=True)
class Workload:
    quiet: int = 0
    """How many of the users are in quiet hours during the stream."""
    muted: int = 0
    """How many of the users (after the quiet ones) turned ``LIKE`` off."""
    digest_posts: int = 0
    """> 0: the likes digest on this many posts per user."""
    text_bytes: int = 0
    """> 0: ``SYSTEM`` events whose text is that long (the faults that fill Redis)."""

    def quiet_users(self, users: list[str]) -> list[str]:
        return users[:self.quiet]

    def muted_users(self, users: list[str]) -> list[str]:
        return users[self.quiet:self.quiet + self.muted]

    def event(self, run_id: str, users: list[str], n: int) -> dict[str, Any]:
        """The ``n``-th event of the stream (its ``eventId`` unique to the run)."""
        event_id = f"{run_id}-{n}"
        user = users[n % len(users)]
        if self.text_bytes > 0:
            text = f"{n} " + "x" * max(0, self.text_bytes - len(str(n)) - 1)
            return {"eventId": event_id, "type": "SYSTEM", "actorId": f"actor{n % 50}",
                    "targetId": user, "text": text}
        if self.digest_posts > 0:
            turn = n // len(users)  # the user's turn-th like
            post = turn % self.digest_posts
            k = turn // self.digest_posts  # the post's k-th like
            return {"eventId": event_id, "type": "LIKE",
                    "actorId": f"fan{k * (REPEAT_EVERY - 1) // REPEAT_EVERY}",
                    "targetId": user, "postId": f"d{post}"}
        return {"eventId": event_id, "type": "LIKE", "actorId": f"actor{n % 50}",
                "targetId": user, "postId": f"p{n}"}

    async def prepare(self, api: httpx.AsyncClient, users: list[str]) -> None:
        """Set the quiet and muted users' preferences through the producer's API."""
        for user in self.quiet_users(users):
            await put_preferences(api, user, {"types": {}, "quietHours": quiet_hours_now()})
        for user in self.muted_users(users):
            await put_preferences(api, user, {"types": {"LIKE": False}, "quietHours": None})


async def put_preferences(api: httpx.AsyncClient, user: str, body: dict[str, Any]) -> None:
    answer = await api.put(f"/v1/users/{user}/preferences", json=body, timeout=10)
    assert answer.status_code == 200, f"PUT preferences of {user}: {answer.status_code} " \
                                      f"{answer.text[:300]}"
