"""``POST /v1/templates/preview``: a message template rendered against sample data.

A tenant's admin (a key with the scope ``admin``) or the operator (``ADMIN_API_KEY``) sends
``{"template": str, "data": {...}}`` and gets ``{"rendered": str}``, or ``422
invalid_template`` whose detail gives the engine's reason (a syntax error and its line, an
unknown variable, too long, too slow, an unsafe attribute…). Nothing is stored: this is the
first step of per-tenant templates (issue 19), and it lets a team try a template before it
can reach users.

Served by the fast lane, so the body is bounded by ``MAX_BODY_BYTES`` (413) and parsed as
strict JSON (400 on a duplicated key) like ingest's. ``data`` is bounded as well, at most
:data:`~producer.schemas.MAX_DATA_DEPTH` (10) levels and
:data:`~producer.schemas.MAX_DATA_KEYS` (100) keys in all: sample data is a few
fields of an event. The render runs inline: the engine stops it within 50 ms.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

from common.templates import TemplateRefused, render
from common.tenancy import ADMIN
from producer import api_shapes as shapes
from producer.bodies import validate_body
from producer.door import Door, credential, unauthorized
from producer.errors import HttpError, parse_json
from producer.routing import KEY_SECURITY, Answer, Declared, answer, answers
from producer.routing import body as request_body
from producer.schemas import MAX_DATA_DEPTH, MAX_DATA_KEYS, PreviewIn

__all__ = ["data_problem", "template_routes"]


def data_problem(data: Any) -> str | None:
    """Why ``data`` is too big, or ``None``; walks it without recursion."""
    keys = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DATA_DEPTH:
                return f"data nests deeper than {MAX_DATA_DEPTH} levels"
            if isinstance(value, dict):
                keys += len(value)
                if keys > MAX_DATA_KEYS:
                    return f"data holds more than {MAX_DATA_KEYS} keys"
                stack.extend((item, depth + 1) for item in value.values())
            else:
                stack.extend((item, depth + 1) for item in value)
    return None


def template_routes(door: Door) -> list[Declared]:
    async def admitted(scope: Scope) -> None:
        """The operator key, or a tenant key with ``admin`` (as the admin API's gate)."""
        key = credential(scope["headers"])
        if key is None:
            raise unauthorized("send an admin key: X-API-Key: <key> or "
                               "Authorization: Bearer <key>")
        if not door.is_admin_key(key):
            (await door.authenticate(key)).require(ADMIN)

    async def preview(body: bytes, scope: Scope) -> Answer:
        await admitted(scope)
        asked = validate_body(PreviewIn, parse_json(body), "invalid_request",
                              'the body must be {"template": str, "data": {...}}')
        problem = data_problem(asked.data)
        if problem is not None:
            raise HttpError(422, "invalid_request", problem,
                            [{"field": "data", "message": problem}])
        try:
            rendered = render(asked.template, asked.data)
        except TemplateRefused as refused:
            raise HttpError(422, "invalid_template", f"the template is refused: "
                            f"{refused.reason}",
                            [{"field": "template", "message": refused.reason}]) from None
        return 200, {"rendered": rendered}, None

    return [Declared("/v1/templates/preview", {"post": {
        "tags": ["templates"], "operationId": "previewTemplate",
        "summary": "Render a message template against sample data (nothing is stored)",
        "description": "Needs the operator key or a key with `admin`. The engine is "
                       "sandboxed and bounded: at most 10,000 characters of template and "
                       "of output, 50 ms, 1,000 items per `range`, 20 nested calls; an "
                       "undefined variable is an error. A refusal is `422 "
                       "invalid_template`, `details[0].message` saying why.",
        "security": KEY_SECURITY,
        "requestBody": request_body(PreviewIn, "The template and the data it names.",
                                    {"template": "{{ actor }} liked your post",
                                     "data": {"actor": "alice"}}),
        "responses": answers({200: answer("The rendered text.", shapes.TemplatePreview)},
                             400, 401, 403, 413, 422, 503),
    }}, body_handler=preview)]
