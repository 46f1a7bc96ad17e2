"""JSON error answers, and parsing a request body.

Every 4xx/5xx the producer sends is ``{"error": <code>, "message": <text>, "details": [...]}``
where each detail names the field (``"field": "targetIds.2"``) and what is wrong with it.

Error answers stay small whatever the request: at most :data:`MAX_DETAILS` details are listed
(``"detailsOmitted": N`` counts the rest) and a field name is cut at :data:`MAX_FIELD_CHARS`.
A body of 90,000 unknown keys once drew a 7.8 MB answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.responses import Response

from common import strict_json
from common.validation import problems

__all__ = [
    "MAX_DETAILS",
    "MAX_FIELD_CHARS",
    "BodyTooLarge",
    "HttpError",
    "bad_field",
    "dependency_unavailable",
    "error_body",
    "error_response",
    "field_name",
    "internal_error",
    "invalid",
    "json_response",
    "parse_json",
    "validation_details",
]


MAX_DETAILS = 20
MAX_FIELD_CHARS = 200


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
        omitted: int = 0,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.headers = headers
        self.omitted = omitted  # details left out of the answer (over MAX_DETAILS)


def internal_error() -> HttpError:
    """The answer to an exception nothing else handled (it is logged where it is caught)."""
    return HttpError(500, "internal_error", "unexpected server error")


def bad_field(field: str, message: str, code: str = "invalid_request") -> HttpError:
    """``422`` naming ``field`` (a path or query parameter the body's validation did not see)."""
    return HttpError(422, code, f"{field}: {message}", [{"field": field, "message": message}])


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
    if error.omitted:
        body["detailsOmitted"] = error.omitted
    return body


def error_response(error: HttpError) -> Response:
    return json_response(error_body(error), error.status, error.headers)


def field_name(path: str) -> str:
    """A field path as an answer shows it: cut at :data:`MAX_FIELD_CHARS` (a key may be as
    long as the body)."""
    return path if len(path) <= MAX_FIELD_CHARS else path[:MAX_FIELD_CHARS] + "..."


def validation_details(exc: ValidationError) -> tuple[list[dict[str, Any]], int]:
    """Pydantic errors as an answer's details (:func:`common.validation.problems`): the
    first :data:`MAX_DETAILS` as ``{"field", "message", "type"}`` (model-level rules name
    ``body``), and how many more there were."""
    details = [{"field": field_name(p.field), "message": p.message, "type": p.type}
               for p in problems(exc, MAX_DETAILS)]
    return details, exc.error_count() - len(details)


def invalid(code: str, message: str, exc: ValidationError) -> HttpError:
    """The 422 of a body pydantic refused, its details capped (:func:`validation_details`)."""
    details, omitted = validation_details(exc)
    return HttpError(422, code, message, details, omitted=omitted)


def parse_json(body: bytes) -> Any:
    """The body parsed as JSON, whatever the content type (curl's ``-d`` says form data);
    400 ``invalid_json`` when it is empty, not JSON, or holds a key twice in one object
    (:mod:`common.strict_json`), naming the key."""
    if not body.strip():
        raise HttpError(400, "invalid_json", "the request body is empty; send a JSON object")
    try:
        return strict_json.loads(body)
    except strict_json.DuplicateKey as exc:
        raise HttpError(400, "invalid_json", f"the request body is not valid JSON: {exc}",
                        [{"field": field_name(exc.path), "message": "duplicated key"}]) from None
    except orjson.JSONDecodeError as exc:
        raise HttpError(400, "invalid_json", f"the request body is not valid JSON: {exc}") from None
