"""``python -m persister``: stream → store batches and the expiry sweep, probes on ``PORT``."""

from __future__ import annotations

from common.logs import configure_logging, log_starting
from common.service import run_service
from common.settings import load_settings
from persister.app import serve
from persister.settings import PersisterSettings


def main() -> None:
    settings = load_settings(PersisterSettings, "persister")
    configure_logging("persister", settings.log_level)
    log_starting()
    run_service(lambda: serve(settings))


if __name__ == "__main__":
    main()
