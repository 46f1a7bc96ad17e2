"""Wiring of the producer: routes, probes, the publisher's lifetime, error answers.

The ingest routes are served by :class:`producer.ingest.fastlane.FastLane` in front of the Starlette
app, which serves the rest (read API, demo, probes, the API document) and runs the lifespan.
CORS (when configured) wraps both, outermost. Each room declares its routes with their
OpenAPI operations (:class:`producer.routing.Declared`); this module serves that one list
and the document (:mod:`producer.openapi`, served by :mod:`producer.site.docs`) is derived
from it, so no route goes undocumented; tests/unit/test_openapi_routes.py checks the served
routes against the served document.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from common.auth import Verifier
from common.health import Readiness
from common.logs import get_logger
from common.redis_pool import open_redis
from common.redis_watch import RedisMemoryWatch
from common.service import EmbeddedServer, stop_on_signals
from common.telemetry import Tracer, start_telemetry
from producer.admin.console.routes import Console, console_routes
from producer.admin.routes import admin_routes
from producer.catalog.preview import template_routes
from producer.catalog.routes import catalog_routes
from producer.config_access import config_cache, type_checker
from producer.cors import with_cors
from producer.door import Door
from producer.errors import HttpError, error_response, internal_error
from producer.http_protocol import JsonErrorProtocol
from producer.ingest.accept import Ingest
from producer.ingest.admission import IngestLimiter
from producer.ingest.events import event_routes
from producer.ingest.fastlane import FastLane
from producer.ingest.publisher import Publisher
from producer.ingest.seed import seed_routes
from producer.probes import probes
from producer.reads.history import History
from producer.reads.marks import mark_routes
from producer.reads.privacy import privacy_routes
from producer.reads.routes import Gate, read_routes
from producer.reads.tokens import token_routes
from producer.settings import ProducerSettings
from producer.site.docs import docs_assets, docs_routes
from producer.site.pages import demo_routes
from producer.site.sdk import sdk_routes
from producer.store_holder import StoreHolder
from producer.tenant_admin import admin_tenant
from producer.topics.fanouts import fanout_routes
from producer.topics.routes import topic_routes
from producer.users.held import rescheduler
from producer.users.routes import user_routes

__all__ = ["create_app", "exception_handlers", "serve"]

log = get_logger(__name__)


def create_app(settings: ProducerSettings) -> ASGIApp:
    publisher = Publisher(
        settings.rabbitmq_url,
        settings.names,
        settings.delivery_limit,
        settings.publish_timeout_seconds,
    )
    tracer = Tracer()
    redis = open_redis(settings.redis_url)
    holder = StoreHolder(settings.store_url, settings.store_retention_days)
    history = History(redis, settings.names.keys, holder)
    # Tenants' types and templates, users' settings (issue 19), at most
    # HERALD_CONFIG_TTL_SECONDS old; the config routes forget what they write. Also on
    # app.state.config_cache (the Starlette app behind the fast lane).
    config = config_cache(holder, settings.herald_config_ttl_seconds)
    ingest = Ingest(publisher, settings.retry_after_seconds, settings.occurred_window, tracer,
                    known_type=type_checker(config))
    limiter = IngestLimiter(redis, settings.names, settings.rate_limit_per_second,
                            settings.rate_limit_burst)
    door = Door(holder, settings.admin_api_key, trusted=settings.auth_mode == "trusted")
    gate = Gate(Verifier.from_settings(settings), settings.read_api_keys, door)
    readiness = Readiness()
    readiness.add("rabbitmq", publisher.check)
    readiness.add("redis", redis.ping)
    readiness.add("store", holder.check)
    memory = RedisMemoryWatch(redis, allow_eviction=settings.herald_redis_allow_eviction)
    readiness.add("redis_memory", memory.ready)
    readiness.show("redisMemory", memory.describe)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.auth_mode == "trusted":
            log.warning("AUTH_MODE=trusted: ingest and the read API are open to anyone, "
                        "without an API key (demo use only)")
        await memory.check_at_start("producer")
        await asyncio.gather(publisher.start(), holder.start())
        memory.start()
        telemetry = start_telemetry(redis, settings, "producer", tracer)
        log.info("producer started", port=settings.port, prefix=settings.herald_prefix)
        try:
            yield
        finally:
            await memory.stop()
            await publisher.close()
            await holder.close()
            await telemetry.close()
            await redis.aclose()
            log.info("producer stopped")

    console = Console(door, settings.names, settings.rabbitmq_url, history,
                      ingest, redis, memory.describe)
    declared = [
        *event_routes(ingest, settings, limiter, door),
        *seed_routes(ingest, limiter, door),
        *read_routes(history, gate),
        *mark_routes(history, gate),
        *privacy_routes(redis, settings.names, holder, gate.tenant_and_user,
                        settings.erasure_tombstone_seconds),
        *probes(readiness),
        *demo_routes(),
        *sdk_routes(Path(settings.sdk_dir) if settings.sdk_dir else None),
        *admin_routes(holder, door),
        *token_routes(door, settings.signing_key, holder),
        *template_routes(door),
        *catalog_routes(holder, door, config, settings.max_body_bytes),
        *user_routes(holder, gate.tenant_and_user, config, settings.max_body_bytes,
                     rescheduler(redis, settings.names.keys)),
        *topic_routes(holder, admin_tenant(door, holder), settings.max_body_bytes),
        *fanout_routes(redis, settings.names.keys, door, holder),
        *console_routes(console),
    ]
    declared += docs_routes(declared)
    app = Starlette(
        routes=[*(d.route() for d in declared if d.endpoint is not None), docs_assets()],
        lifespan=lifespan,
        exception_handlers=exception_handlers(),
    )
    app.state.config_cache = config
    fast = {d.path: d.body_handler for d in declared if d.body_handler is not None}
    return with_cors(FastLane(app, fast, settings.max_body_bytes),
                     settings.cors_allowed_origins)


def exception_handlers() -> dict[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    """How the Starlette side answers errors: the JSON error body of producer/errors.py, as
    the fast lane does (tests/unit/test_error_answers.py holds the two equal)."""

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HttpError)
        return error_response(exc)

    async def on_starlette_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(HttpError(exc.status_code, code, str(exc.detail),
                                        headers=exc.headers))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        return error_response(internal_error())

    return {HttpError: on_http_error, HTTPException: on_starlette_error,
            Exception: on_unexpected}


async def serve(settings: ProducerSettings) -> None:
    stop = stop_on_signals()
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        http=JsonErrorProtocol,  # httptools, answering a request it refuses in JSON
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds),
        server_header=False,
        # The rate limit keys callers without a credential by the peer address; forwarded
        # headers are not trusted (any client could set them).
        proxy_headers=False,
    )
    server = EmbeddedServer(config)
    running = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await running
