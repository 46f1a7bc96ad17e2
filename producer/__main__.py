"""``python -m producer``: the HTTP API on ``PORT``. SIGTERM drains in-flight requests."""

from __future__ import annotations

import uvicorn

from common.logs import configure_logging
from common.settings import load_settings
from producer.app import create_app
from producer.settings import ProducerSettings


def main() -> None:
    settings = load_settings(ProducerSettings, "producer")
    configure_logging("producer", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds),
        server_header=False,
    )


if __name__ == "__main__":
    main()
