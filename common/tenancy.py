"""Tenants and their API keys: the pure part (no I/O).

A tenant (:class:`Tenant`) owns API keys (:class:`ApiKey`); a key belongs to one tenant and
carries scopes (:data:`SCOPES`). The secret key a backend sends looks like
``hk_<key id>_<secret>``: ``<key id>`` is 12 lowercase hex characters (48 random bits) and
names the key in lists, logs and the admin API (it is not secret); ``<secret>`` is 32 random
bytes, URL-safe base64. Only the SHA-256 of the whole key is stored (:func:`hash_key`).

Why SHA-256 and not a slow password hash (bcrypt, argon2): a password hash is slow because
passwords are guessable; a key with 256 random bits is not, so a fast hash is as strong, and
it lets every request be checked in microseconds. Hashes are compared with
:func:`hmac.compare_digest` (:func:`matches`), so the comparison's time does not depend on
where the first differing byte is.

A key is shown once, by :func:`new_key`; nothing can show it again. Rotation makes a new key
of the same tenant and scopes; the old one stays valid until it is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from common.models import is_id

__all__ = [
    "ADMIN",
    "EVENTS_BROADCAST",
    "EVENTS_WRITE",
    "KEY_PREFIX",
    "NOTIFICATIONS_READ",
    "SCOPES",
    "TOKENS_WRITE",
    "ApiKey",
    "NewKey",
    "Tenant",
    "check_scopes",
    "hash_key",
    "key_id_of",
    "matches",
    "new_key",
]

EVENTS_WRITE = "events:write"
"""Publish events (``POST /v1/events``, ``/v1/events/batch``, the seed routes)."""
EVENTS_BROADCAST = "events:broadcast"
"""Publish an event to the topic ``"*"``: every user the tenant has (a broadcast). Its own
scope, besides ``events:write``: a key that may notify some users may not notify all of
them."""
NOTIFICATIONS_READ = "notifications:read"
"""Read any user's notifications of the tenant, and export a user's data."""
TOKENS_WRITE = "tokens:write"
"""Mint short-lived user tokens (``POST /v1/tokens``) for the gateway and the read API."""
ADMIN = "admin"
"""Manage the tenant's keys (admin API) and erase a user's data."""
SCOPES = (EVENTS_WRITE, EVENTS_BROADCAST, NOTIFICATIONS_READ, TOKENS_WRITE, ADMIN)

KEY_PREFIX = "hk_"
_KEY = re.compile(r"^hk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant; ``rate_per_second``/``burst`` ``None``: the producer's defaults
    (``RATE_LIMIT_PER_SECOND``/``RATE_LIMIT_BURST``)."""

    id: str
    name: str
    created_at: datetime
    rate_per_second: float | None = None
    burst: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"tenantId": self.id, "name": self.name, "createdAt": _iso(self.created_at),
                "ratePerSecond": self.rate_per_second, "burst": self.burst}


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: never the key itself, only its SHA-256 (``hash``, hex)."""

    key_id: str
    tenant_id: str
    hash: str
    scopes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None = None
    name: str = ""

    @property
    def prefix(self) -> str:
        """How the key is shown in lists: its first characters, never the secret part."""
        return f"{KEY_PREFIX}{self.key_id}_"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def revoked(self, at: datetime) -> ApiKey:
        return self if self.revoked_at is not None else replace(self, revoked_at=at)

    def to_json(self) -> dict[str, Any]:
        return {"keyId": self.key_id, "tenantId": self.tenant_id, "prefix": self.prefix,
                "name": self.name, "scopes": sorted(self.scopes),
                "createdAt": _iso(self.created_at),
                "revokedAt": _iso(self.revoked_at) if self.revoked_at else None}


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: ``secret`` is the whole key, to show once; ``stored`` what is kept."""

    secret: str = field(repr=False)
    stored: ApiKey

    def to_json(self) -> dict[str, Any]:
        return {**self.stored.to_json(), "key": self.secret}


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256, hex (see the module docstring for why a fast
    hash)."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str | None:
    """The key id a presented key names, or ``None`` when it is not of Herald's format."""
    found = _KEY.match(key)
    return found.group(1) if found else None


def matches(key: str, stored: ApiKey) -> bool:
    """Whether ``key`` is the key ``stored`` was made from (constant-time on the hash)."""
    return hmac.compare_digest(hash_key(key), stored.hash)


def check_scopes(scopes: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """``scopes`` as a set, or ``ValueError`` naming an unknown one or an empty list."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r} (known: {', '.join(SCOPES)})")
    if not scopes:
        raise ValueError(f"give at least one scope of {', '.join(SCOPES)}")
    return frozenset(scopes)


def new_key(tenant_id: str, scopes: frozenset[str], now: datetime, name: str = "") -> NewKey:
    """A fresh random key of ``tenant_id`` with ``scopes``."""
    if not is_id(tenant_id):
        raise ValueError("tenantId is not a valid id")
    key_id = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    stored = ApiKey(key_id, tenant_id, hash_key(secret), check_scopes(scopes), now, None, name)
    return NewKey(secret, stored)
