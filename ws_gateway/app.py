"""Wiring of the gateway: the websockets server, probes on the same port, the hub, drain."""

from __future__ import annotations

import asyncio

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from common.auth import Verifier
from common.buffer.pending import PendingStore
from common.health import Readiness, probe
from common.logs import get_logger
from common.redis_pool import open_redis
from common.redis_watch import RedisMemoryWatch
from common.service import stop_on_signals
from common.store.holder import StoreHolder
from common.telemetry import Presence, Tracer, start_telemetry
from ws_gateway.ack_batcher import AckBatcher
from ws_gateway.guard import GuardedConnection
from ws_gateway.handler import Handler
from ws_gateway.hub import Hub
from ws_gateway.marks import Marks
from ws_gateway.settings import GatewaySettings

__all__ = ["WS_PATHS", "serve_gateway"]

log = get_logger(__name__)

WS_PATHS = ("/", "/ws")


def _http_response(status: int, content_type: str, body: bytes) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                       ("Connection", "close")])
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(status, "")
    return Response(status, reason, headers, body)


def json_rejection(
    connection: ServerConnection, request: Request, response: Response
) -> Response | None:
    """A refused handshake answered in JSON like every other error of Herald's HTTP surface
    (websockets writes plain text: ``426 Failed to open a WebSocket connection: ...``)."""
    if response.status_code < 400 or response.headers.get("Content-Type") == "application/json":
        return None
    code = {426: "upgrade_required", 400: "bad_handshake"}.get(response.status_code,
                                                                "handshake_refused")
    message = response.body.decode("utf-8", "replace").strip()[:300]
    body = orjson.dumps({"error": code, "message": message})
    refused = _http_response(response.status_code, "application/json", body)
    for name in ("Upgrade", "Sec-WebSocket-Version"):  # what the client must send instead
        if name in response.headers:
            refused.headers[name] = response.headers[name]
    refused.reason_phrase = response.reason_phrase
    return refused


async def serve_gateway(settings: GatewaySettings) -> None:
    stop = stop_on_signals()
    if settings.auth_mode == "trusted":
        log.warning("AUTH_MODE=trusted: clients are who they say they are (demo use only)")
    # ACK bursts (one event to many users, all ACKing at once) want more than the default.
    redis = open_redis(settings.redis_url, max_connections=128)
    memory = RedisMemoryWatch(redis, allow_eviction=settings.herald_redis_allow_eviction)
    await memory.check_at_start("ws_gateway")
    hub = Hub(redis)
    await hub.start()
    tracer, presence = Tracer(), Presence()
    telemetry = start_telemetry(redis, settings, "ws_gateway", tracer, presence)
    pending = PendingStore(redis, settings.names.keys)
    verifier = Verifier.from_settings(settings)
    acks = AckBatcher(pending)
    # The inbox marks (MARK / MARK_ALL) need the store; opened in the background, never
    # waited for: delivery and ACKs do not depend on it.
    store = StoreHolder(settings.store_url, settings.store_retention_days)
    await store.start(wait_seconds=0)
    marks = Marks(redis, settings.names.keys, store)
    handler = Handler(settings, verifier, hub, pending, acks, tracer, presence, marks)

    readiness = Readiness()
    readiness.add("redis", redis.ping)
    readiness.add("redis_memory", memory.ready)
    readiness.show("redisMemory", memory.describe)
    memory.start()

    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        result = await probe(path, readiness)
        if result is not None:
            return _http_response(result.status, result.content_type, result.body)
        if path not in WS_PATHS:
            return _http_response(404, "application/json", b'{"error":"not_found"}')
        return None

    async with serve(
        handler,
        settings.host,
        settings.port,
        process_request=process_request,
        process_response=json_rejection,
        compression=None,  # permessage-deflate costs ~50 KiB per connection
        max_size=settings.max_frame_bytes,
        # Received frames waiting for the handler: at most this many times MAX_FRAME_BYTES.
        max_queue=4,
        write_limit=settings.write_buffer_bytes,
        ping_interval=settings.ping_interval_seconds,
        ping_timeout=settings.ping_timeout_seconds,
        open_timeout=settings.handshake_timeout_seconds,
        close_timeout=settings.close_timeout_seconds,
        create_connection=GuardedConnection.factory(settings.write_buffer_bytes,
                                                    settings.write_stall_seconds),
    ) as server:
        log.info("gateway started", port=settings.port, auth_mode=settings.auth_mode)
        await stop.wait()
        log.info("gateway draining: closing connections with 1001")
        server.close(close_connections=True)
        try:
            await asyncio.wait_for(server.wait_closed(), settings.shutdown_timeout_seconds)
        except TimeoutError:
            log.warning("drain timed out")
    await acks.close()
    await store.close()
    await hub.close()
    await memory.stop()
    await telemetry.close()
    await redis.aclose()
    log.info("gateway stopped")
