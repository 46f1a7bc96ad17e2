"""``/healthz``, ``/readyz`` and ``/metrics`` for every service.

:func:`probe` is the I/O-free core (path in, status and body out); :func:`probe_routes` wraps
it for Starlette and the gateway calls it from its HTTP hook. Services without an HTTP API of
their own (consumer, persister) run :class:`ProbeServer`, uvicorn inside their event loop.
``/healthz`` also names the running build (:mod:`common.build_info`): which one answers.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from common.build_info import build_info
from common.service import EmbeddedServer

__all__ = ["ProbeResult", "ProbeServer", "Readiness", "probe", "probe_routes"]

Check = Callable[[], Awaitable[object]]
"""A readiness check: returns when the dependency answers, raises when it does not."""

PROBE_PATHS = ("/healthz", "/readyz", "/metrics")

# `*_created` series double every counter and carry nothing an operator graphs.
disable_created_metrics()  # type: ignore[no-untyped-call]


@dataclass
class Readiness:
    """Named checks of a service's real dependencies, run on every ``/readyz``."""

    timeout: float = 2.0
    checks: dict[str, Check] = field(default_factory=dict)
    # Figures shown beside the checks (``/readyz``'s other fields), e.g. ``redisMemory``;
    # a provider returning ``None`` (nothing known yet) is left out.
    details: dict[str, Callable[[], object]] = field(default_factory=dict)

    def add(self, name: str, check: Check) -> None:
        self.checks[name] = check

    def show(self, name: str, provider: Callable[[], object]) -> None:
        self.details[name] = provider

    def shown(self) -> dict[str, object]:
        found = {name: provider() for name, provider in self.details.items()}
        return {name: value for name, value in found.items() if value is not None}

    async def run(self) -> tuple[bool, dict[str, str]]:
        async def one(check: Check) -> str:
            try:
                await asyncio.wait_for(check(), self.timeout)
            except Exception as exc:  # a failing dependency is an answer, not an error
                return f"down: {type(exc).__name__}: {exc}"[:200]
            return "ok"

        names = list(self.checks)
        results = await asyncio.gather(*(one(self.checks[n]) for n in names))
        detail = dict(zip(names, results, strict=True))
        return all(r == "ok" for r in results), detail


@dataclass(frozen=True, slots=True)
class ProbeResult:
    status: int
    content_type: str
    body: bytes


@functools.cache
def _health_body() -> bytes:
    """``{"status": "ok", "version", "commit"}``: the build does not change while it runs."""
    return orjson.dumps({"status": "ok", **build_info().as_dict()})


async def probe(path: str, readiness: Readiness) -> ProbeResult | None:
    """Answer a probe path, or ``None`` if ``path`` is not one."""
    if path == "/healthz":
        return ProbeResult(200, "application/json", _health_body())
    if path == "/readyz":
        ready, detail = await readiness.run()
        body = orjson.dumps({"status": "ready" if ready else "unready", "checks": detail,
                             **readiness.shown()})
        return ProbeResult(200 if ready else 503, "application/json", body)
    if path == "/metrics":
        return ProbeResult(200, CONTENT_TYPE_LATEST, generate_latest())
    return None


def probe_routes(readiness: Readiness) -> list[Route]:
    async def endpoint(request: Request) -> Response:
        result = await probe(request.url.path, readiness)
        assert result is not None
        return Response(result.body, result.status, media_type=result.content_type)

    return [Route(path, endpoint, methods=["GET"]) for path in PROBE_PATHS]


class ProbeServer:
    """The probe routes on ``host:port``, served inside the caller's event loop."""

    def __init__(self, readiness: Readiness, host: str, port: int) -> None:
        app = Starlette(routes=probe_routes(readiness))
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
        )
        self._server = EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the bind error, if any
                raise RuntimeError("probe server exited at start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
