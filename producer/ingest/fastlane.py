"""The ingest routes as plain ASGI, in front of Starlette.

Every accepted event is one request, so ingest is the producer's hot path. Served through
Starlette (its two exception middlewares, the router, a ``Request`` and a ``Response`` per call)
the framework took about a fifth of the producer's CPU at 4,500 requests/s
(``python -m bench ingest --profile``). A body handler here takes the body bytes and the ASGI
scope (for the caller's headers and address) and returns ``(status, content, headers)``;
errors are the same JSON answers the rest of the API gives (:func:`producer.errors.error_body`).
Any other path goes on to Starlette.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from common.logs import get_logger
from producer.errors import BodyTooLarge, HttpError, error_body, internal_error
from producer.routing import Answer, BodyHandler

__all__ = ["Answer", "BodyHandler", "FastLane"]

log = get_logger(__name__)


class _Disconnected(Exception):
    """The client went away before its body was read; nothing to answer."""


class FastLane:
    def __init__(self, app: ASGIApp, routes: Mapping[str, BodyHandler], limit: int) -> None:
        self._app = app
        self._routes = dict(routes)
        self._limit = limit

    @property
    def app(self) -> ASGIApp:
        """The app behind the fast lane (Starlette), which serves every other path."""
        return self._app

    @property
    def paths(self) -> tuple[str, ...]:
        """The paths the fast lane serves itself (``POST`` only; other methods are 405)."""
        return tuple(self._routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self._routes.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None:
            await self._app(scope, receive, send)
            return
        try:
            if scope["method"] != "POST":
                raise HttpError(405, "method_not_allowed", "Method Not Allowed",
                                headers={"Allow": "POST"})
            status, content, headers = await handler(await self._body(scope, receive), scope)
        except _Disconnected:
            return
        except HttpError as error:
            status, content, headers = error.status, error_body(error), error.headers
        except Exception:
            log.exception("unhandled error", path=scope["path"])
            unexpected = internal_error()
            status, content, headers = 500, error_body(unexpected), None
        await _send_json(send, status, content, headers)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body; 413 when over the limit (``Content-Length`` first, then as read)."""
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self._limit:
                raise BodyTooLarge(self._limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._limit:
                raise BodyTooLarge(self._limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send_json(
    send: Send, status: int, content: Any, headers: Mapping[str, str] | None
) -> None:
    body = orjson.dumps(content)
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if headers:
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
