"""The wire protocol, without I/O: client frames in, server frames out, close codes.

Client → gateway: ``{"type":"AUTH","token":...}`` (or ``"userId"`` in trusted mode),
``{"type":"ACK","notificationId":...}`` / ``{"type":"ACK","notificationIds":[...]}``,
``{"type":"MARK","mark":"seen|read|archived|unarchived","notificationIds":[...]}`` and
``{"type":"MARK_ALL","mark":...}`` (inbox states, :mod:`common.inbox`).
Gateway → client: ``AUTH_OK``, ``NOTIFICATION``, ``NOTIFICATION_UPDATE``, ``ACK_OK``,
``MARK_OK`` (the answer to a mark, to the connection that sent it), ``INBOX_STATE`` (after
any mark of the user's, from any connection, gateway or the read API: to every connection of
the user; a client shows it only if its ``seq`` is above the last it showed), ``ERROR``.
``NOTIFICATION_UPDATE`` carries a newer ``version`` of a notification this connection sent
before (a digest, :mod:`common.buffer.digest`): the same id, which the client
replaces in place; an older or equal version is never sent after a newer one.

Frames are read as strictly as HTTP bodies: a key twice in one object is ``BAD_FRAME``
(:mod:`common.strict_json`), ids obey :func:`common.models.is_id`. :func:`parse` raises
:class:`FrameError` and nothing else, whatever the text (tests/unit/test_fuzz.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from common import strict_json
from common.inbox import MAX_MARK_IDS
from common.models import ID_RULE, is_id
from common.records import Mark

__all__ = [
    "CLOSE_AUTH_FAILED",
    "CLOSE_AUTH_REQUIRED",
    "CLOSE_AUTH_TIMEOUT",
    "CLOSE_GOING_AWAY",
    "CLOSE_OVERLOADED",
    "CLOSE_POLICY",
    "CLOSE_TOO_BIG",
    "CLOSE_TOO_MANY",
    "Ack",
    "Auth",
    "FrameError",
    "MarkFrame",
    "ack_ok",
    "auth_ok",
    "error",
    "inbox_state_frame",
    "mark_ok",
    "notification_frame",
    "notification_update_frame",
    "parse",
    "version_of",
]

CLOSE_GOING_AWAY = 1001  # the gateway is shutting down: reconnect (to any gateway)
CLOSE_POLICY = 1008  # too many bad frames
CLOSE_TOO_BIG = 1009  # a frame over MAX_FRAME_BYTES (sent by the websockets library)
CLOSE_OVERLOADED = 1013  # the client reads too slowly: reconnect, pending is replayed
CLOSE_AUTH_REQUIRED = 4001  # the first frame was not AUTH
CLOSE_AUTH_TIMEOUT = 4002  # no AUTH within AUTH_TIMEOUT_SECONDS
CLOSE_AUTH_FAILED = 4003  # the token is invalid, expired or forged
CLOSE_TOO_MANY = 4029  # over MAX_CONNECTIONS, MAX_UNAUTHENTICATED or ..._PER_ADDRESS: back off

class FrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Auth:
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ack:
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MarkFrame:
    """``MARK`` (``ids`` given) or ``MARK_ALL`` (``ids is None``)."""

    mark: Mark
    ids: tuple[str, ...] | None


_MARK_NAMES = frozenset(m.value for m in Mark)
_MARKS = ", ".join(m.value for m in Mark)


def parse(data: str | bytes, max_ack_ids: int) -> Auth | Ack | MarkFrame:
    """A client frame, or :class:`FrameError` saying what is wrong with it. ``max_ack_ids``
    bounds the ids of an ACK, and of a MARK (never over :data:`common.inbox.MAX_MARK_IDS`)."""
    if isinstance(data, bytes):
        raise FrameError("BAD_FRAME", "binary frames are not part of the protocol; send JSON text")
    try:
        frame = strict_json.loads(data)
    except strict_json.DuplicateKey as exc:
        raise FrameError("BAD_FRAME", f"frame is not valid JSON: {exc}") from None
    except orjson.JSONDecodeError:
        raise FrameError("BAD_FRAME", "frame is not valid JSON") from None
    if not isinstance(frame, dict):
        raise FrameError("BAD_FRAME", "frame must be a JSON object")
    kind = frame.get("type")
    if kind == "AUTH":
        return Auth(frame)
    if kind == "ACK":
        ids = frame.get("notificationIds")
        if ids is None and "notificationId" in frame:
            ids = [frame["notificationId"]]
        if not isinstance(ids, list) or not ids:
            raise FrameError("BAD_ACK", "ACK needs notificationId or a non-empty notificationIds")
        if len(ids) > max_ack_ids:
            raise FrameError("BAD_ACK", f"at most {max_ack_ids} ids per ACK")
        if not all(is_id(i) for i in ids):
            raise FrameError("BAD_ACK", f"notification ids are strings of {ID_RULE}")
        return Ack(tuple(dict.fromkeys(ids)))
    if kind == "MARK" or kind == "MARK_ALL":
        return _mark(frame, kind, min(max_ack_ids, MAX_MARK_IDS))
    raise FrameError("UNKNOWN_TYPE", f"unknown frame type {str(kind)[:40]!r}; use AUTH, ACK, "
                                     "MARK or MARK_ALL")


def _mark(frame: dict[str, Any], kind: str, max_ids: int) -> MarkFrame:
    extra = set(frame) - ({"type", "mark", "notificationIds"} if kind == "MARK"
                          else {"type", "mark"})
    if extra:
        raise FrameError("BAD_MARK", f"{kind} has no field {sorted(extra)[0][:40]!r}")
    raw = frame.get("mark")
    try:
        mark = Mark(raw) if isinstance(raw, str) else None
    except ValueError:
        mark = None
    if mark is None:
        raise FrameError("BAD_MARK", f"{kind} needs mark: one of {_MARKS}")
    if kind == "MARK_ALL":
        return MarkFrame(mark, None)
    ids = frame.get("notificationIds")
    if not isinstance(ids, list) or not ids:
        raise FrameError("BAD_MARK", "MARK needs a non-empty notificationIds")
    if len(ids) > max_ids:
        raise FrameError("BAD_MARK", f"at most {max_ids} ids per MARK")
    if not all(is_id(i) for i in ids):
        raise FrameError("BAD_MARK", f"notification ids are strings of {ID_RULE}")
    return MarkFrame(mark, tuple(dict.fromkeys(ids)))


def auth_ok(user_id: str, tenant_id: str, pending: int) -> str:
    return orjson.dumps({"type": "AUTH_OK", "userId": user_id, "tenantId": tenant_id,
                         "pending": pending}).decode()


def notification_frame(notification_json: str) -> str:
    """Wraps the buffered JSON as it is: no parse, no re-serialisation on the hot path."""
    return '{"type":"NOTIFICATION","notification":' + notification_json + "}"


def notification_update_frame(notification_json: str) -> str:
    """A newer version of a notification sent before on this connection, as it is."""
    return '{"type":"NOTIFICATION_UPDATE","notification":' + notification_json + "}"


_VERSION = re.compile(r'"version":(\d{1,18})')


def version_of(notification_json: str) -> int:
    """The ``version`` of a buffered notification's JSON without parsing it (1 if it has
    none: made before digests). ``"version":`` can only be the key: inside a JSON string the
    quotes are escaped."""
    found = _VERSION.search(notification_json)
    return int(found.group(1)) if found else 1


def ack_ok(acked: list[str], unknown: list[str]) -> str:
    return orjson.dumps({"type": "ACK_OK", "notificationIds": acked, "unknown": unknown}).decode()


def mark_ok(mark: Mark, marked: Sequence[str] | None, unknown: Sequence[str], changed: int,
            seq: int) -> str:
    """The answer to this connection's ``MARK`` (``notificationIds``: the ids that are the
    user's; ``unknown``: the others) or ``MARK_ALL`` (``all``; ``changed``: how many it
    changed); ``seq``: the ``INBOX_STATE`` it caused (it comes to this connection too)."""
    return orjson.dumps({"type": "MARK_OK", "mark": mark.value, "all": marked is None,
                         "notificationIds": list(marked) if marked is not None else None,
                         "unknown": list(unknown), "changed": changed, "seq": seq}).decode()


_STATE_FIELDS = ("seq", "mark", "notificationIds", "all", "at", "unseen", "unread")


def inbox_state_frame(state: object) -> str | None:
    """The ``INBOX_STATE`` frame of a live ``{"inbox": {...}}`` message's state
    (:meth:`common.inbox.InboxState.to_json`), or ``None`` if it is not one."""
    if not isinstance(state, dict):
        return None
    seq, unseen, unread = state.get("seq"), state.get("unseen"), state.get("unread")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
               for n in (seq, unseen, unread)):
        return None
    ids = state.get("notificationIds")
    if not (ids is None or isinstance(ids, list)) or state.get("mark") not in _MARK_NAMES \
            or not isinstance(state.get("at"), str):
        return None
    return orjson.dumps({"type": "INBOX_STATE", **{k: state.get(k) for k in _STATE_FIELDS},
                         "all": ids is None}).decode()


def error(code: str, message: str, notification_ids: Sequence[str] | None = None,
          mark: Mark | None = None) -> str:
    """An ERROR frame; ``notificationIds`` names the ids of an ACK (or, with ``mark``, of a
    MARK; ``mark`` alone: a MARK_ALL) that was not recorded."""
    body: dict[str, Any] = {"type": "ERROR", "code": code, "message": message}
    if mark is not None:
        body["mark"] = mark.value
    if notification_ids is not None:
        body["notificationIds"] = list(notification_ids)
    return orjson.dumps(body).decode()
