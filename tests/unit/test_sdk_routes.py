"""``GET /sdk/herald.js`` and ``/sdk/herald-inbox.js`` (producer/site/sdk.py): the files of
clients/js as ES modules, revalidated by ETag, and a clear 404 when a file is missing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from producer.errors import HttpError, error_response
from producer.site.sdk import SDK_FILES, default_sdk_dir, sdk_routes

pytestmark = pytest.mark.unit


def client(directory: Path | None = None) -> httpx.AsyncClient:
    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HttpError)
        return error_response(exc)

    app = Starlette(routes=[d.route() for d in sdk_routes(directory)],
                    exception_handlers={HttpError: on_http_error})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sdk")


@pytest.mark.parametrize("name", SDK_FILES)
async def test_each_module_is_served_as_javascript_with_an_etag(name: str) -> None:
    async with client() as http:
        answer = await http.get(f"/sdk/{name}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
        assert answer.headers["access-control-allow-origin"] == "*"
        assert answer.content == (default_sdk_dir() / name).read_bytes()
        again = await http.get(f"/sdk/{name}", headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""


def test_the_inbox_imports_the_sdk_by_a_relative_path() -> None:
    inbox = (default_sdk_dir() / "herald-inbox.js").read_text("utf-8")
    assert 'from "./herald.js"' in inbox


async def test_a_missing_file_is_a_json_404(tmp_path: Path) -> None:
    (tmp_path / "herald.js").write_text("export const x = 1;\n")
    async with client(tmp_path) as http:
        assert (await http.get("/sdk/herald.js")).status_code == 200
        missing = await http.get("/sdk/herald-inbox.js")
        assert missing.status_code == 404
        assert missing.json()["error"] == "not_found"
        assert (await http.get("/sdk/other.js")).status_code == 404
