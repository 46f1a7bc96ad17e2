"""``POST /v1/tokens``: short-lived user tokens for backends that do not mint JWTs.

A tenant's key with the scope ``tokens:write`` asks for a token of one of its users
(``{"userId", "ttlSeconds"?}``, :class:`producer.schemas.TokenIn`); the answer is
``{"token", "expiresAt", "tokenType": "Bearer", "userId", "tenantId"}``, an HS256 JWT (``sub``
the user, ``tid`` the key's tenant, ``exp``, ``kid`` in its header) signed with the first of
``JWT_KEYS`` (or ``JWT_SECRET``), which the gateway and the read API accept. The user
becomes one the tenant has (a known user, whom a broadcast reaches), recorded in the store
before the token is signed: a store that does not answer is ``503`` naming it. Tokens live
``ttlSeconds`` (default 900, 60 to 86400); a client asks for a new one before its token
expires. With only ``JWT_PUBLIC_KEY`` configured Herald has nothing to sign with:
``501 not_configured``. Tokens never appear in logs.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from common.auth import sign_token
from common.models import utc_now
from common.tenancy import TOKENS_WRITE
from producer import api_shapes as shapes
from producer.bodies import validate_body
from producer.config_access import store_guarded
from producer.door import Door
from producer.errors import HttpError, json_response, parse_json
from producer.routing import KEY_SECURITY, Declared, answer, answers
from producer.routing import body as request_body
from producer.schemas import TokenIn
from producer.store_holder import StoreHolder

__all__ = ["token_routes"]


def token_routes(door: Door, signing_key: tuple[str, str] | None,
                 holder: StoreHolder) -> list[Declared]:
    async def mint(request: Request) -> Response:
        principal = await door.from_headers(request.scope["headers"], TOKENS_WRITE)
        body = validate_body(TokenIn, parse_json(await request.body()), "invalid_request",
                             'the body must be {"userId", "ttlSeconds"?}')
        if signing_key is None:
            raise HttpError(501, "not_configured", "this Herald verifies tokens with "
                            "JWT_PUBLIC_KEY only; set JWT_KEYS or JWT_SECRET to mint them")
        await holder.store.add_known_users(principal.tenant_id, [body.userId], utc_now())
        kid, secret = signing_key
        expires = int(time.time()) + body.ttlSeconds
        token = sign_token(kid, secret, principal.tenant_id, body.userId, expires)
        at = datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
        return json_response({"token": token, "expiresAt": at, "tokenType": "Bearer",
                              "userId": body.userId, "tenantId": principal.tenant_id})

    return [Declared("/v1/tokens", {"post": {
        "tags": ["tokens"], "operationId": "mintToken",
        "summary": "A short-lived token of one user of the key's tenant",
        "description": "Needs a key with `tokens:write`. The token is accepted by the "
                       "gateway's AUTH frame and the read API until `expiresAt`.",
        "security": KEY_SECURITY,
        "requestBody": request_body(TokenIn, "The user, and how long the token lives.",
                                    {"userId": "bob", "ttlSeconds": 900}),
        "responses": answers({200: answer("The token.", shapes.TokenOut)},
                             400, 401, 403, 422, 501, 503),
    }}, endpoint=store_guarded(mint))]
