"""Who a client is: a verified JWT, or — only in ``AUTH_MODE=trusted`` — a bare ``userId``.

Tokens are HS256 with ``JWT_SECRET`` or RS256 with ``JWT_PUBLIC_KEY`` (both may be set; the
token's header picks, among these two only). Claims: ``sub`` (user id), ``tid`` (tenant,
optional → ``default``), ``exp`` (required). Nothing else identifies a user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jwt

from common.models import ID_PATTERN

__all__ = ["AuthError", "Identity", "Verifier"]

_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True, slots=True)
class Identity:
    tenant_id: str
    user_id: str


class AuthError(Exception):
    """The credentials do not identify anyone; ``code`` goes into the ERROR frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Verifier:
    def __init__(self, mode: str, secret: str | None, public_key: str | None) -> None:
        self.trusted = mode == "trusted"
        self._keys: dict[str, str] = {}
        if secret:
            self._keys["HS256"] = secret
        if public_key:
            self._keys["RS256"] = public_key

    def verify(self, frame: dict[str, object]) -> Identity:
        token = frame.get("token")
        if isinstance(token, str):
            return self._verify_token(token)
        if self.trusted:
            user, tenant = frame.get("userId"), frame.get("tenantId", "default")
            if isinstance(user, str) and isinstance(tenant, str) and _ID.match(user) \
                    and _ID.match(tenant):
                return Identity(tenant, user)
            raise AuthError("AUTH_INVALID", "userId must be an id of 1-128 [A-Za-z0-9._@-]")
        raise AuthError("AUTH_REQUIRED", "AUTH needs a token")

    def _verify_token(self, token: str) -> Identity:
        try:
            algorithm = str(jwt.get_unverified_header(token).get("alg"))
            key = self._keys.get(algorithm)
            if key is None:
                raise AuthError("AUTH_INVALID", "token algorithm not accepted")
            claims = jwt.decode(token, key, algorithms=[algorithm],
                                options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("AUTH_EXPIRED", "token expired") from None
        except jwt.PyJWTError as exc:
            raise AuthError("AUTH_INVALID", f"token invalid: {exc}") from None
        user, tenant = claims.get("sub"), claims.get("tid", "default")
        if not (isinstance(user, str) and isinstance(tenant, str) and _ID.match(user)
                and _ID.match(tenant)):
            raise AuthError("AUTH_INVALID", "sub and tid must be ids of 1-128 [A-Za-z0-9._@-]")
        return Identity(tenant, user)
