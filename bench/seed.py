"""The two surfaces the tool can speak: Herald's, and the seed's (``--protocol seed``).

* one event: ``POST /v1/events`` ``{"eventId","type","actorId","targetId","postId"}``
  answered 202 — or the seed's ``POST /like`` ``{"actorId","targetId","postId",
  "type":"LIKE"}`` answered 200;
* AUTH: ``{"type":"AUTH","token":<HS256 JWT>}`` — or ``{"type":"AUTH","userId":...}``;
* a notification: ``{"type":"NOTIFICATION","notification":{...}}`` — or the seed's
  ``{"type":"NOTIFICATION","payload":{...}}``.

Each event gets a unique ``postId`` as well as an ``eventId``: the seed's body has no event
id (the server makes one), so on its surface a received notification is matched to the POST
that caused it by ``postId``; on Herald's by ``eventId``. Either surface's answers are accepted on
either side (a 202 from a seed-like system, a ``notification`` body in seed mode), so the
matching never depends on which of two near-identical systems is on the other end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
import orjson

__all__ = ["PROTOCOLS", "Protocol", "make_token"]


def make_token(secret: str, user: str, ttl: float = 3600.0) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time() + ttl)}, secret, algorithm="HS256")


@dataclass(frozen=True)
class Protocol:
    name: str
    event_path: str
    ok_statuses: frozenset[int]
    has_batch: bool

    def event_body(self, event_id: str, actor: str, targets: str | list[str]) -> bytes:
        """A LIKE from ``actor`` on post ``event_id`` (unique per event) for one target, or
        for several (``targetIds``, Herald only)."""
        if isinstance(targets, list) and len(targets) == 1:
            targets = targets[0]
        if self.name == "seed":
            assert isinstance(targets, str), "the seed's /like has one targetId"
            return orjson.dumps({"actorId": actor, "targetId": targets, "postId": event_id,
                                 "type": "LIKE"})
        to = {"targetId": targets} if isinstance(targets, str) else {"targetIds": targets}
        return orjson.dumps({"eventId": event_id, "type": "LIKE", "actorId": actor, **to,
                             "postId": event_id})

    def batch_body(self, events: list[tuple[str, str, str]]) -> bytes:
        return orjson.dumps({"events": [
            {"eventId": e, "type": "LIKE", "actorId": a, "targetId": t, "postId": e}
            for e, a, t in events]})

    def auth_frame(self, user: str, secret: str | None) -> str:
        if self.name == "seed" or secret is None:
            return orjson.dumps({"type": "AUTH", "userId": user}).decode()
        return orjson.dumps({"type": "AUTH", "token": make_token(secret, user)}).decode()

    @staticmethod
    def notification(frame: dict[str, Any]) -> dict[str, Any] | None:
        """The notification a frame carries, or None for any other frame."""
        if frame.get("type") != "NOTIFICATION":
            return None
        body = frame.get("notification")
        if not isinstance(body, dict):
            body = frame.get("payload")
        return body if isinstance(body, dict) else None

    def match_key(self, notification: dict[str, Any]) -> str | None:
        """The event key the bench sent: ``eventId`` on Herald's surface; ``postId`` on the
        seed's, which lets the server choose the event id."""
        first, second = ("postId", "eventId") if self.name == "seed" else ("eventId", "postId")
        key = notification.get(first) or notification.get(second)
        return str(key) if key is not None else None

    @staticmethod
    def notification_id(notification: dict[str, Any]) -> str | None:
        for name in ("id", "notificationId", "_id"):
            value = notification.get(name)
            if value is not None:
                return str(value)
        return None

    @staticmethod
    def ack_frame(ids: list[str]) -> str:
        if len(ids) == 1:
            return orjson.dumps({"type": "ACK", "notificationId": ids[0]}).decode()
        return orjson.dumps({"type": "ACK", "notificationIds": ids}).decode()


PROTOCOLS = {
    "herald": Protocol("herald", "/v1/events", frozenset({202}), has_batch=True),
    "seed": Protocol("seed", "/like", frozenset({200, 202}), has_batch=False),
}
