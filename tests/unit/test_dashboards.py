"""The Grafana dashboard and the alert rules name only metrics Herald really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import consumer.metrics
import persister.metrics
import producer.metrics
import ws_gateway.metrics

pytestmark = pytest.mark.unit

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_SUFFIXES = ("_bucket", "_sum", "_count", "_total")
_METRIC_MODULES = (consumer.metrics, persister.metrics, producer.metrics, ws_gateway.metrics)


def exported() -> set[str]:
    names: set[str] = set()
    for collector in list(REGISTRY._collector_to_names):
        for family in collector.collect():
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
    return {n for n in names if n.startswith("herald_")}


def referenced(text: str) -> set[str]:
    return set(re.findall(r"\bherald_[a-z_]+", text))


def base(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "herald.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def test_every_metric_the_dashboard_and_alerts_use_is_exported() -> None:
    assert _METRIC_MODULES  # imported for their registrations
    known = exported() | {base(n) for n in exported()}
    used = referenced(" ".join(dashboard_exprs()))
    used |= referenced((DEPLOY / "prometheus" / "alerts.yml").read_text())
    assert used, "nothing referenced"
    missing = {n for n in used if n not in known and base(n) not in known}
    assert not missing, f"not exported by any service: {sorted(missing)}"


def test_dashboard_panels_have_unique_ids_and_a_query_each() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "herald.json").read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all(p["targets"] and all(t["expr"].strip() for t in p["targets"])
               for p in dashboard["panels"])
