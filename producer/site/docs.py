"""``GET /openapi.json`` and ``GET /docs``: the API's document and a page to browse it.

The page is Swagger UI from the ``swagger-ui-bundle-v2`` package, its JS and CSS served by
the producer itself under ``/docs/assets`` (a :class:`StaticFiles` mount of the package's
files), so it works offline and behind a firewall; it asks no other host for anything
(Swagger UI's online validator is off). Its URLs are relative, so it works behind a proxy
that serves the producer under a path prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from producer.openapi import openapi_document
from producer.routing import Declared, answers
from producer.site.pages import html_page

__all__ = ["ASSETS_PATH", "docs_assets", "docs_routes"]

ASSETS_PATH = "/docs/assets"
"""Where Swagger UI's files are served; not an API operation, so not in the document."""


def docs_routes(declared: Sequence[Declared]) -> list[Declared]:
    """``/docs`` and ``/openapi.json``, the document of ``declared`` and of these two (built
    once, here)."""
    page_html = resources.files("producer.site").joinpath("static/docs.html").read_text("utf-8")
    document = b""

    async def openapi_json(request: Request) -> Response:
        return Response(document, media_type="application/json")

    async def docs(request: Request) -> Response:
        return HTMLResponse(page_html)

    own = [
        Declared("/docs", html_page("docs", "This document, browsable (Swagger UI, served "
                                            "by Herald)"), endpoint=docs),
        Declared("/openapi.json", {"get": {
            "tags": ["pages"], "operationId": "openapi", "summary": "This document",
            "responses": answers({200: {"description": "OpenAPI 3.1.",
                                        "content": {"application/json": {
                                            "schema": {"type": "object"}}}}}),
        }}, endpoint=openapi_json),
    ]
    document = orjson.dumps(openapi_document([*declared, *own]))
    return own


def docs_assets() -> Mount:
    """Swagger UI's files; not an API operation, so not in the document."""
    return Mount(ASSETS_PATH, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
