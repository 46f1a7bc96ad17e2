"""JSON error answers, and parsing a request body.

Every 4xx/5xx the producer sends is ``{"error": <code>, "message": <text>, "details": [...]}``
where each detail names the field (``"field": "targetIds.2"``) and what is wrong with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.responses import Response

__all__ = [
    "BodyTooLarge",
    "HttpError",
    "dependency_unavailable",
    "error_body",
    "error_response",
    "internal_error",
    "json_response",
    "parse_json",
    "validation_details",
]


def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(content), status, headers, media_type="application/json")


class HttpError(Exception):
    """Raised by a handler; turned into a JSON error answer by the app."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.headers = headers


def internal_error() -> HttpError:
    """The answer to an exception nothing else handled (it is logged where it is caught)."""
    return HttpError(500, "internal_error", "unexpected server error")


def dependency_unavailable(name: str, retry_after_seconds: int = 5) -> HttpError:
    """503 naming the dependency that did not answer (``redis``, ``store``, as ``/readyz``
    names them), with ``Retry-After``: the caller may retry the same request unchanged."""
    return HttpError(503, "dependency_unavailable", f"{name} is not reachable; retry later",
                     [{"dependency": name, "message": f"{name} did not answer"}],
                     headers={"Retry-After": str(retry_after_seconds)})


class BodyTooLarge(HttpError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "body_too_large", f"request body is over {limit} bytes")


def error_body(error: HttpError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error.code, "message": error.message}
    if error.details:
        body["details"] = error.details
    return body


def error_response(error: HttpError) -> Response:
    return json_response(error_body(error), error.status, error.headers)


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Each pydantic error as ``{"field", "message"}``; model-level rules name ``body``."""
    details = []
    for item in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        details.append({"field": field, "message": message, "type": item["type"]})
    return details


def parse_json(body: bytes) -> Any:
    """The body parsed as JSON, whatever the content type (curl's ``-d`` says form data);
    400 when it is empty or not JSON."""
    if not body.strip():
        raise HttpError(400, "invalid_json", "the request body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HttpError(400, "invalid_json", f"the request body is not valid JSON: {exc}") from None
