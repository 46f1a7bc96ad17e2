"""``python -m producer``: the HTTP API on ``PORT``.

SIGTERM (or SIGINT) drains: uvicorn stops accepting connections, waits for in-flight requests
(each ends with its broker confirm or a 503) up to ``SHUTDOWN_TIMEOUT_SECONDS``, closes the
AMQP connection, and the process exits 0.
"""

from __future__ import annotations

import asyncio

import uvicorn

from common.logs import configure_logging
from common.service import EmbeddedServer, run_service, stop_on_signals
from common.settings import load_settings
from producer.app import create_app
from producer.http_protocol import JsonErrorProtocol
from producer.settings import ProducerSettings


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


def main() -> None:
    settings = load_settings(ProducerSettings, "producer")
    configure_logging("producer", settings.log_level)
    run_service(lambda: serve(settings))


if __name__ == "__main__":
    main()
