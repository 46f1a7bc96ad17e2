"""``GET /demo``: a one-page client to watch notifications arrive (local demos).

The page takes the gateway URL, user and token from its URL fragment
(``/demo#user=bob&token=…``), so a token never reaches a server log.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

__all__ = ["demo_routes"]


def demo_routes() -> list[Route]:
    page = resources.files("producer").joinpath("static/demo.html").read_text("utf-8")

    async def demo(request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    return [Route("/demo", demo, methods=["GET"])]
