"""JSON-lines logging with structlog, one line per event on stdout.

Hot paths log nothing per message at ``info``; what they drop is logged with its ``eventId``.
Ids are bound as keyword arguments (``log.info("dropped", eventId=...)``) or with
``structlog.contextvars.bound_contextvars`` so every line of one unit of work carries them.
A service's first line is :func:`log_starting`'s: which build it runs.
"""

from __future__ import annotations

import logging
import sys

import orjson
import structlog

from common.build_info import build_info

__all__ = ["configure_logging", "get_logger", "log_starting"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def _dumps(value: object, default: object = None) -> str:
    return orjson.dumps(value, default=str).decode()


def configure_logging(service: str, level: str = "info") -> None:
    """Configure structlog (and the stdlib loggers of the libraries) to emit JSON lines."""
    numeric = _LEVELS[level]
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.EventRenamer("msg"),
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)

    # Library loggers (uvicorn, aio-pika, websockets) through the same JSON renderer.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.EventRenamer("msg"),
                structlog.processors.JSONRenderer(serializer=_dumps),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # aio-pika/aiormq log every reconnect attempt with a traceback at WARNING; keep them, but
    # not their DEBUG chatter.
    for noisy in ("aiormq", "aio_pika"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.INFO))
    # websockets logs every connection and probe at INFO: per-connection noise on a hot path.
    logging.getLogger("websockets").setLevel(max(numeric, logging.WARNING))


def get_logger(name: str | None = None) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger


def log_starting() -> None:
    """Log ``starting`` with the running build's ``version`` and ``commit``: a service calls it
    right after :func:`configure_logging`, so its first line says which build it is. Written
    whatever ``LOG_LEVEL`` is (an operator at ``warning`` still learns the build)."""
    unfiltered: structlog.typing.FilteringBoundLogger = structlog.wrap_logger(
        None, wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET))
    unfiltered.info("starting", **build_info().as_dict())
