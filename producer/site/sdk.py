"""``GET /sdk/herald.js`` and ``GET /sdk/herald-inbox.js``: the JavaScript SDK and the
``<herald-inbox>`` web component (clients/js), served as ES modules so a page needs no build
step and no other host:

    <script type="module">
      import { connect } from "http://127.0.0.1:8000/sdk/herald.js";
    </script>

The files are read once, when the app is built, from ``SDK_DIR`` (default: the repository's
``clients/js``); a missing file answers ``404 not_found``. They are public code: any origin
may load them (``Access-Control-Allow-Origin: *``), and caches must revalidate (an ETag).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from producer.errors import HttpError
from producer.routing import Declared, answer, answers

__all__ = ["JS_TYPE", "SDK_FILES", "default_sdk_dir", "sdk_routes"]

SDK_FILES = {"herald.js": ("sdkModule", "The JavaScript SDK (connect, ReadApi)"),
             "herald-inbox.js": ("inboxModule",
                                 "The <herald-inbox> web component (imports herald.js)")}
"""Each file served: its operation id and summary in the document."""
JS_TYPE = "text/javascript; charset=utf-8"


def default_sdk_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "clients" / "js"


def sdk_routes(directory: Path | None = None) -> list[Declared]:
    base = directory or default_sdk_dir()
    files: dict[str, tuple[bytes, str]] = {}
    for name in SDK_FILES:
        path = base / name
        if path.is_file():
            body = path.read_bytes()
            files[name] = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    def serve(name: str) -> Declared:
        async def endpoint(request: Request) -> Response:
            found = files.get(name)
            if found is None:
                raise HttpError(404, "not_found", f"{name} is not installed next to this "
                                                  "producer (SDK_DIR)")
            body, etag = found
            headers = {"ETag": etag, "Cache-Control": "no-cache",
                       "Access-Control-Allow-Origin": "*"}
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers=headers)
            return Response(body, media_type=JS_TYPE, headers=headers)

        operation_id, summary = SDK_FILES[name]
        return Declared(f"/sdk/{name}", {"get": {
            "tags": ["sdk"], "operationId": operation_id, "summary": summary,
            "description": "An ES module (clients/js); any origin may load it. "
                           "`If-None-Match` with its ETag answers `304`.",
            "responses": answers({
                200: answer("The module.", media="text/javascript"),
                304: {"description": "Not changed since the ETag sent."},
            }, 404),
        }}, endpoint=endpoint)

    return [serve(name) for name in SDK_FILES]
