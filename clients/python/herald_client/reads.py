"""The read API over HTTP: history page by page, counts, and the inbox marks (seen, read —
implies seen —, archived — implies read —, unarchived; a pending notification marked is
acknowledged; every connection of the user gets the new counts as ``INBOX_STATE``).

Credentials: a user's JWT (their own notifications) or a tenant API key (any user of that
tenant), sent as ``Authorization: Bearer``. Errors raise :class:`httpx.HTTPStatusError` with
Herald's JSON error body in ``response``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx

__all__ = ["ReadApi"]


class ReadApi:
    def __init__(self, base_url: str, credential: str, *, timeout: float = 10.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self._http = client or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self._headers = {"Authorization": f"Bearer {credential}"}

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ReadApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method: str, path: str, json: Any = None, **params: str) -> Any:
        answer = await self._http.request(method, path, params=params or None,
                                          headers=self._headers, json=json)
        answer.raise_for_status()
        return answer.json()

    async def history(self, user_id: str, page_size: int = 50, *, archived: bool = False
                      ) -> AsyncIterator[dict[str, Any]]:
        """Every notification of the user, newest first, fetched a page at a time (the
        archived ones only with ``archived=True``; never both)."""
        cursor: str | None = None
        while True:
            params = {"limit": str(page_size)}
            if archived:
                params["archived"] = "true"
            if cursor:
                params["cursor"] = cursor
            page = await self._call("GET", f"/v1/users/{quote(user_id, safe='')}/notifications",
                                    **params)
            for notification in page["notifications"]:
                yield notification
            cursor = page.get("nextCursor")
            if not page.get("hasMore") or not cursor:
                return

    async def unread_count(self, user_id: str) -> int:
        body = await self._call(
            "GET", f"/v1/users/{quote(user_id, safe='')}/notifications/unread-count")
        return int(body["unread"])

    async def mark_read(self, notification_id: str) -> None:
        await self._call("POST", f"/v1/notifications/{quote(notification_id, safe='')}/read")

    async def mark_all_read(self, user_id: str) -> int:
        """Marks every notification of the user read; how many were marked."""
        body = await self._call(
            "POST", f"/v1/users/{quote(user_id, safe='')}/notifications/read-all")
        return int(body.get("marked", 0))

    async def counts(self, user_id: str) -> dict[str, Any]:
        """``{userId, tenantId, unseen, unread, seq}``: the badge figures, at least as new as
        the state of ``seq``."""
        body: dict[str, Any] = await self._call(
            "GET", f"/v1/users/{quote(user_id, safe='')}/notifications/counts")
        return body

    async def mark(self, user_id: str, mark: str, notification_ids: list[str]
                   ) -> dict[str, Any]:
        """Mark 1-500 notifications ``seen``, ``read``, ``archived`` or ``unarchived``:
        ``{marked, unknown, state}`` (``state``: what every connection of the user gets)."""
        body: dict[str, Any] = await self._call(
            "POST", f"/v1/users/{quote(user_id, safe='')}/notifications/marks",
            json={"mark": mark, "notificationIds": notification_ids})
        return body

    async def mark_all(self, user_id: str, mark: str) -> dict[str, Any]:
        """Mark every notification that exists now (a high-water mark: one arriving
        meanwhile is left): ``{changed, state}``."""
        body: dict[str, Any] = await self._call(
            "POST", f"/v1/users/{quote(user_id, safe='')}/notifications/marks/all",
            json={"mark": mark})
        return body
