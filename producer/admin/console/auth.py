"""Who may use the console's data endpoints (``/v1/admin/...`` of :mod:`.routes`): the
operator, holding the bootstrap admin key (``ADMIN_API_KEY``), in ``Authorization: Bearer``
or ``X-API-Key`` as the front door reads them (:func:`producer.door.credential`), compared in
constant time (:meth:`producer.door.Door.is_admin_key`).

No credential → 401; any other credential → 403, including a tenant's stored key with the
scope ``admin``: the console shows every tenant's traffic, dead letters and users, which a
tenant's key may not see (it manages its own keys through the admin API). No
``ADMIN_API_KEY`` configured → every call is 403. The console's HTML shell and its static
files need no key: they hold no data.
"""

from __future__ import annotations

from starlette.requests import Request

from producer.door import Door, credential, forbidden, unauthorized

__all__ = ["require_admin"]


def require_admin(request: Request, door: Door) -> None:
    """Returns if the request carries the admin key; raises 401/403 :class:`HttpError`."""
    key = credential(request.scope["headers"])
    if key is None:
        raise unauthorized("send the admin key: Authorization: Bearer <ADMIN_API_KEY>")
    if not door.is_admin_key(key):
        raise forbidden("the console takes the operator's admin key (ADMIN_API_KEY) only")
