"""Who may use the console's data endpoints (``/v1/admin/...``): one function, so the front
door's admin-scoped keys can take its place without touching the routes.

Today: ``Authorization: Bearer <ADMIN_API_KEY>`` (compared in constant time). No credential
→ 401; any other credential, or no ``ADMIN_API_KEY`` configured → 403. The console's HTML
shell and its static files need no key: they hold no data.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from producer.errors import HttpError

__all__ = ["require_admin"]


def require_admin(request: Request, admin_key: str | None) -> None:
    """Returns if the request carries the admin key; raises 401/403 :class:`HttpError`."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise HttpError(401, "unauthorized", "send Authorization: Bearer <admin key>",
                        headers={"WWW-Authenticate": "Bearer"})
    if admin_key is None or not hmac.compare_digest(credential.encode(), admin_key.encode()):
        raise HttpError(403, "forbidden", "this key is not an admin key")
