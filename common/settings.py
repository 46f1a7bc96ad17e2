"""Settings every service reads from the environment (12-factor; ``PORT`` as Railway sets it).

A bad or missing setting stops the service at start with one line on stderr that names it:
see :func:`load_settings`.
"""

from __future__ import annotations

import sys
from typing import Annotated, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.buffer.keys import MAX_SHARDS
from common.naming import Names
from common.validation import one_line

__all__ = [
    "BaseServiceSettings",
    "Port",
    "RetrySettings",
    "Seconds",
    "SettingsError",
    "ShutdownSeconds",
    "load_settings",
]

Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0, le=10 * 365 * 86400)]
ShutdownSeconds = Annotated[float, Field(gt=0, le=600)]
"""How long a service drains on SIGTERM before it gives up (a service that wants another
default than the base's re-declares the field with this type, not with its own bounds)."""
RetryMaxSeconds = Annotated[float, Field(gt=0, le=300)]


class BaseServiceSettings(BaseSettings):
    """The settings shared by all four services, declared once here. Each service subclasses
    it and sets its own default ``port`` (``port: Port = 8002``); one that drains for another
    time than the default re-declares ``shutdown_timeout_seconds: ShutdownSeconds``."""

    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", frozen=True,
        env_ignore_empty=True,  # `FOO=` means "not set", as in most deploy UIs
    )

    port: Port = 8000
    host: str = "0.0.0.0"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    herald_prefix: str = Field("herald", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # How long SIGTERM's drain may take before the service gives up and exits.
    shutdown_timeout_seconds: ShutdownSeconds = 20.0
    notification_ttl_seconds: Seconds = 86400.0
    # Quorum-queue delivery limit: a message redelivered more often is dead-lettered by the
    # broker (reason ``delivery_limit``). Producer and consumer declare the queue with the same
    # value, so it lives here. RabbitMQ 3.x also counts deliveries returned by a closed channel,
    # so it must leave room for restarts.
    delivery_limit: int = Field(20, ge=1, le=1000)
    # How long an event's stage marks are kept for the console's Trace page (0: tracing off).
    trace_ttl_seconds: float = Field(3600.0, ge=0, le=30 * 86400)
    # How many shards the Redis buffer is split into (common/buffer/keys.py): 1 on a single
    # Redis; several per node on a Redis Cluster. The same in every service; drain to change.
    herald_buffer_shards: int = Field(1, ge=1, le=MAX_SHARDS)
    # Run on a Redis whose maxmemory-policy evicts (common/redis_memory.py): refused at start
    # unless true, since an evicted key is a notification lost without a record.
    herald_redis_allow_eviction: bool = False
    # This process's name in the console (default hostname-pid).
    replica_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")

    @field_validator("rabbitmq_url")
    @classmethod
    def _amqp_scheme(cls, value: str) -> str:
        if not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must start with amqp:// or amqps://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def names(self) -> Names:
        return Names(self.herald_prefix, self.herald_buffer_shards)


class RetrySettings(BaseServiceSettings):
    """For the services that retry a dependency until it answers (consumer, persister)."""

    # The longest pause between two attempts (backoff with jitter up to it).
    retry_max_seconds: RetryMaxSeconds = 5.0


class SettingsError(SystemExit):
    """Raised by :func:`load_settings`; exits with status 2 after one line on stderr."""


S = TypeVar("S", bound=BaseServiceSettings)


def describe_errors(error: ValidationError) -> str:
    """One line naming every bad setting by its environment variable."""
    return one_line(error, limit=20, whole="settings", upper=True)


def load_settings(cls: type[S], service: str) -> S:
    """Read ``cls`` from the environment, or exit 2 with one line that names the setting."""
    try:
        return cls()
    except ValidationError as exc:
        print(f"herald {service}: bad setting: {describe_errors(exc)}", file=sys.stderr)
        raise SettingsError(2) from None
