"""``GET /demo``: a one-page client to watch notifications arrive (local demos); ``GET /``: where
to go from here, for someone who just opened the producer's address.

The demo page takes the gateway URL, user and token from its URL fragment
(``/demo#user=bob&token=…``), so a token never reaches a server log. ``/`` answers JSON, or a
small HTML page when the client prefers HTML (a browser's ``Accept``).
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from producer import api_shapes as shapes
from producer.errors import json_response
from producer.routing import Declared, Operation, answer, answers, schema_of

__all__ = ["INDEX", "demo_routes", "html_page"]

LINKS = {
    "demo": "/demo",
    "docs": "/docs",
    "health": "/healthz",
    "readiness": "/readyz",
    "metrics": "/metrics",
}
INGEST = "POST /v1/events"
README = "README.md in the Herald repository: the HTTP API, WebSocket protocol and settings"
INDEX = {"service": "herald producer", "ingest": INGEST, "links": LINKS, "readme": README}


def _index_html() -> str:
    items = "".join(f'<li><a href="{href}">{href}</a> ({name})</li>'
                    for name, href in LINKS.items())
    return (
        "<!doctype html><meta charset=utf-8><title>Herald</title>"
        "<h1>Herald producer</h1>"
        f"<p>Send events with <code>{INGEST}</code>. Start here:</p><ul>{items}</ul>"
        f"<p>{README}.</p>"
    )


def html_page(operation_id: str, summary: str) -> dict[str, Operation]:
    """The operation of an HTML page."""
    return {"get": {"tags": ["pages"], "operationId": operation_id, "summary": summary,
                    "responses": answers({200: answer("The page.", media="text/html")})}}


def demo_routes() -> list[Declared]:
    page = resources.files("producer.site").joinpath("static/demo.html").read_text("utf-8")
    index_html = _index_html()

    async def demo(request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def index(request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if "text/html" in accept:
            return HTMLResponse(index_html)
        return json_response(INDEX)

    return [
        Declared("/", {"get": {
            "tags": ["pages"], "operationId": "index", "summary": "Where to go from here",
            "responses": answers({200: {
                "description": "Links to the demo, the docs and the probes (an HTML page "
                               "when the client accepts text/html).",
                "content": {"application/json": {"schema": schema_of(shapes.Index)},
                            "text/html": {"schema": {"type": "string"}}}}}),
        }}, endpoint=index),
        Declared("/demo", html_page("demo", "A one-page client that shows notifications arriving"),
                 endpoint=demo),
    ]
