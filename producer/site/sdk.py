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
from starlette.routing import Route

from producer.errors import HttpError

__all__ = ["JS_TYPE", "SDK_FILES", "default_sdk_dir", "sdk_routes"]

SDK_FILES = ("herald.js", "herald-inbox.js")
JS_TYPE = "text/javascript; charset=utf-8"


def default_sdk_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "clients" / "js"


def sdk_routes(directory: Path | None = None) -> list[Route]:
    base = directory or default_sdk_dir()
    files: dict[str, tuple[bytes, str]] = {}
    for name in SDK_FILES:
        path = base / name
        if path.is_file():
            body = path.read_bytes()
            files[name] = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    def serve(name: str) -> Route:
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

        return Route(f"/sdk/{name}", endpoint, methods=["GET"])

    return [serve(name) for name in SDK_FILES]
