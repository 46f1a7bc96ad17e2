"""``python -m ws_gateway``: the WebSocket gateway on ``PORT`` (probes on the same port)."""

from __future__ import annotations

from common.logs import configure_logging, log_starting
from common.service import run_service
from common.settings import load_settings
from ws_gateway.app import serve_gateway
from ws_gateway.settings import GatewaySettings


def main() -> None:
    settings = load_settings(GatewaySettings, "ws_gateway")
    configure_logging("ws_gateway", settings.log_level)
    log_starting()
    run_service(lambda: serve_gateway(settings))


if __name__ == "__main__":
    main()
