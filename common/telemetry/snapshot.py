"""Pure: a process's Prometheus samples into the compact snapshot it publishes every second.

A sample is keyed ``name`` or ``name{k=v,k2=v2}`` (labels sorted). Each snapshot carries

* ``values`` — every ``herald_*`` sample now (counters, gauges, histogram buckets);
* ``rates`` — per second since the previous snapshot, for counters and histogram counts
  (a counter that went down — a restart cannot happen within one process — counts as 0);
* ``recent`` — how much each histogram bucket grew over the last :data:`RECENT_SECONDS`
  (for p50/p99 over a short window, summed across replicas by the reader);
* ``growth`` — how much each gauge moved over the last :data:`GROWTH_SECONDS`.

Zeros are left out of ``rates``, ``recent`` and ``growth``: a snapshot stays a few KiB.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.registry import Collector

__all__ = ["GROWTH_SECONDS", "RECENT_SECONDS", "Sampler", "parse_key", "read_registry",
           "sample_key"]

RECENT_SECONDS = 10.0
GROWTH_SECONDS = 60.0
PREFIX = "herald_"

Samples = dict[str, float]


def sample_key(name: str, labels: Mapping[str, str]) -> str:
    if not labels:
        return name
    return name + "{" + ",".join(f"{k}={labels[k]}" for k in sorted(labels)) + "}"


def parse_key(key: str) -> tuple[str, dict[str, str]]:
    name, _, rest = key.partition("{")
    labels: dict[str, str] = {}
    for pair in rest.rstrip("}").split(","):
        if pair:
            k, _, v = pair.partition("=")
            labels[k] = v
    return name, labels


def read_registry(registry: Collector = REGISTRY) -> tuple[Samples, set[str], set[str]]:
    """Every ``herald_*`` sample, and the keys that are gauges and that are histogram
    buckets or counts."""
    values: Samples = {}
    gauges: set[str] = set()
    histograms: set[str] = set()
    for metric in registry.collect():
        if not metric.name.startswith(PREFIX):
            continue
        for sample in metric.samples:
            if sample.name.endswith(("_created", "_sum", "_gsum", "_gcount")):
                continue
            key = sample_key(sample.name, sample.labels)
            values[key] = float(sample.value)
            if metric.type == "gauge":
                gauges.add(key)
            elif metric.type == "histogram":
                histograms.add(key)
    return values, gauges, histograms


@dataclass
class Sampler:
    """Keeps the last :data:`GROWTH_SECONDS` of samples to compute rates and windows."""

    history: deque[tuple[float, Samples]] = field(default_factory=deque)

    def snapshot(self, now: float, values: Samples, gauges: Iterable[str],
                 histograms: Iterable[str]) -> dict[str, Any]:
        history = self.history
        previous = history[-1] if history else None
        history.append((now, values))
        while len(history) > 2 and history[1][0] <= now - GROWTH_SECONDS:
            history.popleft()
        gauge_keys = set(gauges)
        histogram_keys = set(histograms)
        rates: Samples = {}
        if previous is not None and now > previous[0]:
            elapsed = now - previous[0]
            for key, value in values.items():
                if key in gauge_keys or (key in histogram_keys and "_bucket" in key):
                    continue
                delta = value - previous[1].get(key, 0.0)
                if delta > 0:
                    rates[key] = round(delta / elapsed, 3)
        recent_base = self._at_or_before(now - RECENT_SECONDS)
        recent = {k: v - recent_base.get(k, 0.0) for k, v in values.items()
                  if k in histogram_keys and v - recent_base.get(k, 0.0) > 0}
        growth_base = history[0][1]
        growth = {k: v - growth_base.get(k, v) for k, v in values.items()
                  if k in gauge_keys and v != growth_base.get(k, v)}
        return {"values": values, "rates": rates, "recent": recent, "growth": growth,
                "growthSeconds": round(now - history[0][0], 1)}

    def _at_or_before(self, moment: float) -> Samples:
        base = self.history[0][1]
        for at, values in self.history:
            if at > moment:
                break
            base = values
        return base
