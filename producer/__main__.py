"""``python -m producer``: the HTTP API on ``PORT``.

SIGTERM (or SIGINT) drains: uvicorn stops accepting connections, waits for in-flight requests
(each ends with its broker confirm or a 503) up to ``SHUTDOWN_TIMEOUT_SECONDS``, closes the
AMQP connection, and the process exits 0.
"""

from __future__ import annotations

from common.logs import configure_logging, log_starting
from common.service import run_service
from common.settings import load_settings
from producer.app import serve
from producer.settings import ProducerSettings


def main() -> None:
    settings = load_settings(ProducerSettings, "producer")
    configure_logging("producer", settings.log_level)
    log_starting()
    run_service(lambda: serve(settings))


if __name__ == "__main__":
    main()
