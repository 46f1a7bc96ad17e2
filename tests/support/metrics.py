"""Reading a service's ``/metrics``: the positive signal a test waits for instead of sleeping
("the consumer has retried", "the persister tried to open its store again")."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import Service

__all__ = ["metric"]


async def metric(service: Service, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 if none): a
    labelled counter asked without labels gives its total over every label."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(service.url + "/metrics", timeout=5)).text
    return sum(sample.value
               for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == name
               and all(sample.labels.get(k) == v for k, v in labels.items()))
