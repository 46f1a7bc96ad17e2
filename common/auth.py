"""Who a client is: a verified JWT, or — only in ``AUTH_MODE=trusted`` — a bare ``userId``.

Tokens are HS256 with ``JWT_SECRET`` or RS256 with ``JWT_PUBLIC_KEY`` (both may be set; the
token's header picks, among these two only). Claims: ``sub`` (user id), ``tid`` (tenant,
optional → ``default``), ``exp`` (required). Nothing else identifies a user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Self

import jwt
from pydantic import Field, model_validator

from common.models import ID_PATTERN
from common.settings import BaseServiceSettings

__all__ = ["AuthError", "AuthSettings", "Identity", "Verifier"]


class AuthSettings(BaseServiceSettings):
    """Settings of the services that identify users (gateway, producer's read API)."""

    auth_mode: Literal["jwt", "trusted"] = "jwt"
    jwt_secret: str | None = Field(None, min_length=32)  # RFC 7518: >= the hash size
    jwt_public_key: str | None = None

    @model_validator(mode="after")
    def _jwt_needs_a_key(self) -> Self:
        if self.auth_mode == "jwt" and not (self.jwt_secret or self.jwt_public_key):
            raise ValueError("AUTH_MODE=jwt needs JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256)")
        return self

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
    @classmethod
    def from_settings(cls, settings: AuthSettings) -> Verifier:
        return cls(settings.auth_mode, settings.jwt_secret, settings.jwt_public_key)

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
