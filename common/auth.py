"""Who a client is: a verified JWT, or — only in ``AUTH_MODE=trusted`` — a bare ``userId``.

Tokens are HS256 with ``JWT_SECRET`` or RS256 with ``JWT_PUBLIC_KEY`` (both may be set; the
token's header picks, among these two only), or HS256 with one of ``JWT_KEYS``
(``kid1:secret1,kid2:secret2``) picked by the token header's ``kid``: several signing keys
are accepted at once, so a secret rotates without dropping clients (add the new key first,
make it the first one, which signs new tokens, and drop the old one once its tokens expired).
A token with a ``kid`` is checked only against the key of that ``kid`` (``JWT_SECRET`` is kid
``default`` unless ``JWT_KEYS`` names one so); a token without one, as before.
Claims: ``sub`` (user id), ``tid`` (tenant, optional → ``default``), ``exp`` (required).
Nothing else identifies a user.

``sub`` and ``tid`` obey the id rule of the HTTP API (:func:`common.models.is_id`), and the
registered time claims have their RFC 7519 type: ``exp``, ``nbf`` and ``iat`` are JSON numbers.
PyJWT alone would take ``"exp": "9999999999"`` (it calls ``int()`` on the claim), so the time
claims are checked here, type first, and PyJWT only checks the signature and ``require``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

import jwt
from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from common.models import ID_RULE, is_id
from common.settings import BaseServiceSettings

__all__ = ["DEFAULT_KID", "AuthError", "AuthSettings", "Identity", "Verifier", "sign_token"]

DEFAULT_KID = "default"
"""The ``kid`` of ``JWT_SECRET`` (unless ``JWT_KEYS`` has a key of that name)."""


class AuthSettings(BaseServiceSettings):
    """Settings of the services that identify users (gateway, producer's read API)."""

    auth_mode: Literal["jwt", "trusted"] = "jwt"
    jwt_secret: str | None = Field(None, min_length=32)  # RFC 7518: >= the hash size
    jwt_public_key: str | None = None
    # HS256 keys by kid, "kid1:secret1,kid2:secret2"; the first one signs user tokens.
    jwt_keys: Annotated[tuple[tuple[str, str], ...], NoDecode] = ()

    @field_validator("jwt_keys", mode="before")
    @classmethod
    def _keyring(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs = []
        for item in (i.strip() for i in value.split(",")):
            if not item:
                continue
            kid, sep, secret = item.partition(":")
            if not sep or not is_id(kid.strip()):
                raise ValueError("each key is kid:secret, the kid an id of " + ID_RULE)
            if len(secret) < 32:
                raise ValueError("each secret needs at least 32 characters")
            pairs.append((kid.strip(), secret))
        if len({kid for kid, _ in pairs}) != len(pairs):
            raise ValueError("a kid is named twice")
        return tuple(pairs)

    @model_validator(mode="after")
    def _jwt_needs_a_key(self) -> Self:
        if self.auth_mode == "jwt" and not (self.jwt_secret or self.jwt_public_key
                                            or self.jwt_keys):
            raise ValueError("AUTH_MODE=jwt needs JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256)"
                             " or JWT_KEYS")
        return self

    @property
    def keyring(self) -> dict[str, str]:
        """Every HS256 key by kid: ``JWT_KEYS``, and ``JWT_SECRET`` as :data:`DEFAULT_KID`."""
        ring = dict(self.jwt_keys)
        if self.jwt_secret:
            ring.setdefault(DEFAULT_KID, self.jwt_secret)
        return ring

    @property
    def signing_key(self) -> tuple[str, str] | None:
        """``(kid, secret)`` that signs new user tokens: the first of ``JWT_KEYS``, else
        ``JWT_SECRET``; ``None`` when only a public key is set (nothing to sign with)."""
        if self.jwt_keys:
            return self.jwt_keys[0]
        if self.jwt_secret:
            return DEFAULT_KID, self.jwt_secret
        return None


def sign_token(kid: str, secret: str, tenant_id: str, user_id: str, expires_at: float) -> str:
    """An HS256 user token (``sub``, ``tid``, ``exp``, ``iat``; ``kid`` in its header)."""
    claims = {"sub": user_id, "tid": tenant_id, "exp": int(expires_at),
              "iat": int(time.time())}
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})

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
        return cls(settings.auth_mode, settings.jwt_secret, settings.jwt_public_key,
                   settings.keyring)

    def __init__(self, mode: str, secret: str | None, public_key: str | None,
                 keyring: dict[str, str] | None = None) -> None:
        self.trusted = mode == "trusted"
        self._ring = dict(keyring or {})
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
            header = jwt.get_unverified_header(token)
            algorithm = str(header.get("alg"))
            kid = header.get("kid")
            if kid is not None:
                key = self._ring.get(kid) if isinstance(kid, str) else None
                if key is None:
                    raise AuthError("AUTH_INVALID", "token signed with an unknown kid")
                if algorithm != "HS256":
                    raise AuthError("AUTH_INVALID", "token algorithm not accepted")
            else:
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
