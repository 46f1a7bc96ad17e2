"""Who a client is: a verified JWT, or — only in ``AUTH_MODE=trusted`` — a bare ``userId``.

Tokens are HS256 with ``JWT_SECRET`` or RS256 with ``JWT_PUBLIC_KEY`` (both may be set; the
token's header picks, among these two only). Claims: ``sub`` (user id), ``tid`` (tenant,
optional → ``default``), ``exp`` (required). Nothing else identifies a user.

``sub`` and ``tid`` obey the id rule of the HTTP API (:func:`common.models.is_id`), and the
registered time claims have their RFC 7519 type: ``exp``, ``nbf`` and ``iat`` are JSON numbers.
PyJWT alone would take ``"exp": "9999999999"`` (it calls ``int()`` on the claim), so the time
claims are checked here, type first, and PyJWT only checks the signature and ``require``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal, Self

import jwt
from pydantic import Field, model_validator

from common.models import ID_RULE, is_id
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

_TIME_CLAIMS = ("exp", "nbf", "iat")
# Signature and presence only: the time claims are checked by _check_times, after their type.
_DECODE_OPTIONS: Any = {"require": ["exp", "sub"], "verify_exp": False, "verify_nbf": False,
                        "verify_iat": False}


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
            if isinstance(user, str) and isinstance(tenant, str) and is_id(user) \
                    and is_id(tenant):
                return Identity(tenant, user)
            raise AuthError("AUTH_INVALID", f"userId and tenantId must be ids of {ID_RULE}")
        raise AuthError("AUTH_REQUIRED", "AUTH needs a token")

    def _verify_token(self, token: str) -> Identity:
        try:
            algorithm = str(jwt.get_unverified_header(token).get("alg"))
            key = self._keys.get(algorithm)
            if key is None:
                raise AuthError("AUTH_INVALID", "token algorithm not accepted")
            claims = jwt.decode(token, key, algorithms=[algorithm], options=_DECODE_OPTIONS)
        except jwt.PyJWTError as exc:
            raise AuthError("AUTH_INVALID", f"token invalid: {exc}") from None
        _check_times(claims, time.time())
        user, tenant = claims.get("sub"), claims.get("tid", "default")
        if not (is_id(user) and is_id(tenant)):
            raise AuthError("AUTH_INVALID", f"sub and tid must be ids of {ID_RULE}")
        return Identity(tenant, user)


def _is_number(value: object) -> bool:
    """A JSON number as RFC 7519's NumericDate: int or finite float, never bool or string."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _check_times(claims: dict[str, Any], now: float) -> None:
    """``exp``/``nbf``/``iat`` as PyJWT checks them (no leeway), once each is a number; a claim
    of another type is AUTH_INVALID, whatever its value."""
    for name in _TIME_CLAIMS:
        if name in claims and not _is_number(claims[name]):
            raise AuthError("AUTH_INVALID", f"token invalid: {name} must be a number "
                                            "(seconds since the epoch)")
    if claims["exp"] <= now:
        raise AuthError("AUTH_EXPIRED", "token expired")
    if "nbf" in claims and claims["nbf"] > now:
        raise AuthError("AUTH_INVALID", "token invalid: not yet valid (nbf)")
    if "iat" in claims and claims["iat"] > now:
        raise AuthError("AUTH_INVALID", "token invalid: issued in the future (iat)")
