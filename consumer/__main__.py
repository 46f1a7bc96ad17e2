"""``python -m consumer``: the event worker, with probes on ``PORT``."""

from __future__ import annotations

from common.logs import configure_logging, log_starting
from common.service import run_service
from common.settings import load_settings
from consumer.app import serve
from consumer.settings import ConsumerSettings


def main() -> None:
    settings = load_settings(ConsumerSettings, "consumer")
    configure_logging("consumer", settings.log_level)
    log_starting()
    run_service(lambda: serve(settings))


if __name__ == "__main__":
    main()
