"""The OpenAPI document and the producer's routes agree, both ways.

The app's operations are read from what it really serves: Starlette's router (routes, and
mounts of routes, recursively) and the fast lane's paths, behind whatever middleware wraps
them. A route added without its document entry, or a document entry whose route is gone,
fails here with the difference named. The document is the one the app serves at
``GET /openapi.json``, derived from the rooms' declarations (producer/routing.py), so this
mostly guards what is served outside them: the fast lane, mounts, middleware.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from producer.app import create_app
from producer.ingest.fastlane import FastLane
from producer.routing import ERROR_RESPONSES
from producer.settings import ProducerSettings
from producer.site.docs import ASSETS_PATH
from tests.support.openapi import served_document

pytestmark = pytest.mark.unit

Operation = tuple[str, str]  # (method, path with every parameter written "{}")

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _normal(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _starlette_operations(routes: list[BaseRoute], prefix: str = "") -> set[Operation]:
    found: set[Operation] = set()
    for route in routes:
        if isinstance(route, Mount):
            if isinstance(route.app, StaticFiles):
                # Files, not operations; only the docs page's assets may be served so.
                assert prefix + route.path == ASSETS_PATH, f"undocumented mount {route.path}"
                continue
            found |= _starlette_operations(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            methods = set(route.methods or ())
            if "GET" in methods:
                methods.discard("HEAD")  # Starlette answers HEAD for every GET route
            found |= {(m.lower(), _normal(prefix + route.path)) for m in methods}
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return found


def served_operations(app: Any) -> set[Operation]:
    """Every (method, path) the app serves, unwrapping middleware down to Starlette."""
    found: set[Operation] = set()
    while not isinstance(app, Starlette):
        if isinstance(app, FastLane):
            found |= {("post", _normal(path)) for path in app.paths}
        app = getattr(app, "app", None)
        assert app is not None, "no Starlette app behind the middleware"
    return found | _starlette_operations(list(app.routes))


def documented_operations(document: dict[str, Any]) -> set[Operation]:
    return {(method, _normal(path))
            for path, item in document["paths"].items()
            for method in item if method in METHODS}


@pytest.fixture(params=[(), ("https://app.example",)], ids=["no-cors", "cors"])
def settings(request: pytest.FixtureRequest) -> ProducerSettings:
    return ProducerSettings(jwt_secret="x" * 32, cors_allowed_origins=request.param)


def test_every_route_is_documented_and_every_documented_route_is_served(
    settings: ProducerSettings,
) -> None:
    app = create_app(settings)
    served = served_operations(app)
    documented = documented_operations(served_document(app))
    assert not served - documented, f"served but not documented: {served - documented}"
    assert not documented - served, f"documented but not served: {documented - served}"
    assert ("post", "/v1/events") in served
    assert ("get", "/readyz") in served


def test_every_reference_resolves_and_every_error_answer_has_the_error_schema() -> None:
    document = served_document()
    assert document["openapi"].startswith("3.1")

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == "$ref"] + \
                [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(document):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            assert part in node, f"dangling $ref {ref}"
            node = node[part]
    for name, _, _ in ERROR_RESPONSES.values():
        schema = document["components"]["responses"][name]["content"]["application/json"]
        assert schema["schema"] == {"$ref": "#/components/schemas/Error"}
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message"]
    assert "details" in error["properties"]
    assert set(document["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyHeader"}


def test_every_operation_answers_something_and_has_a_unique_id() -> None:
    ids = []
    for path, item in served_document()["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert any(s.startswith("2") for s in statuses), (method, path)
            assert "500" in statuses, (method, path)
            ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))


def test_every_request_example_is_accepted_by_its_model() -> None:
    """Swagger UI pre-fills the examples: each must be a body the producer accepts."""
    from producer import schemas
    from producer.admin.console import shapes as console_shapes

    for path, item in served_document()["paths"].items():
        for operation in item.values():
            if "requestBody" not in operation:
                continue
            content = operation["requestBody"]["content"]["application/json"]
            name = content["schema"]["$ref"].rsplit("/", 1)[1]
            model = getattr(schemas, name, None) or getattr(console_shapes, name)
            parsed = model.model_validate(content["example"])
            for event in getattr(parsed, "events", []):
                schemas.EventIn.model_validate(event)
            assert parsed is not None, path
