"""uvicorn's httptools protocol, with Herald's JSON error shape for the requests it refuses.

A request the HTTP parser cannot take (``Content-Length`` together with ``Transfer-Encoding``,
a malformed request line or header, a bad chunk size) never reaches the app: uvicorn answers
``400`` itself, in plain text. :class:`JsonErrorProtocol` answers it as every other error is
answered, ``{"error": "invalid_http", "message": ...}``, and closes the connection as uvicorn
does (the rest of the stream cannot be trusted to be framed right).

Passed to ``uvicorn.Config(http=...)`` by :func:`producer.app.serve`; it overrides uvicorn's one
hook for this, ``send_400_response``.
"""

from __future__ import annotations

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from producer.errors import HttpError, error_body

__all__ = ["INVALID_HTTP", "JsonErrorProtocol"]

INVALID_HTTP = HttpError(
    400, "invalid_http",
    "the request is not valid HTTP/1.1 (for example both Content-Length and Transfer-Encoding, "
    "or a malformed request line, header or chunk)",
)
_BODY = orjson.dumps(error_body(INVALID_HTTP))


class JsonErrorProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend([
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(_BODY)).encode("ascii") + b"\r\n",
            b"connection: close\r\n",
            b"\r\n",
            _BODY,
        ])
        self.transport.write(b"".join(content))
        self.transport.close()
