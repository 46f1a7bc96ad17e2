"""The Postman collection covers every operation of the OpenAPI document, and is v2.1 with
the variables its README promises. (tests/e2e/test_postman.py runs it with newman.)"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.openapi import served_document
from tests.support.processes import ROOT

pytestmark = pytest.mark.unit

COLLECTION = ROOT / "postman" / "herald.postman_collection.json"
METHODS = {"get", "put", "post", "delete", "patch"}


def requests(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in items:
        found += requests(item["item"]) if "item" in item else [item["request"]]
    return found


def test_the_collection_is_v2_1_with_the_promised_variables() -> None:
    collection = json.loads(COLLECTION.read_text())
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    assert {"baseUrl", "apiKey", "userToken"} <= {v["key"] for v in collection["variable"]}


def test_every_documented_operation_has_a_request_with_a_status_test() -> None:
    collection = json.loads(COLLECTION.read_text())
    sent = []
    for request in requests(collection["item"]):
        raw = request["url"]["raw"]
        assert raw.startswith("{{baseUrl}}/"), raw
        path = raw.removeprefix("{{baseUrl}}").partition("?")[0]
        sent.append((request["method"].lower(), path))
    missing: list[str] = []
    for path, item in served_document()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)) + "$")
        missing.extend(f"{method.upper()} {path}" for method in set(item) & METHODS
                       if not any(m == method and pattern.match(p) for m, p in sent))
    assert not missing, f"no request in {COLLECTION.name} for: {missing}"


def test_every_request_asserts_its_status_code() -> None:
    def items(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for node in nodes:
            out += items(node["item"]) if "item" in node else [node]
        return out

    for item in items(json.loads(COLLECTION.read_text())["item"]):
        scripts = [line for event in item.get("event", []) if event["listen"] == "test"
                   for line in event["script"]["exec"]]
        assert any("to.have.status(" in line for line in scripts), item["name"]
