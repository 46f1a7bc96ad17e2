"""A real Prometheus (Debian's ``prometheus``) scrapes the four services with Herald's alert
rules loaded: it finds one Herald metric from each, and evaluates every dashboard query and
every alert expression without an error."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.processes import Service, free_port
from tests.support.timing import eventually, scaled

pytestmark = pytest.mark.e2e

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

# One metric each service exports from its start (histograms and unlabelled gauges).
FROM_EACH = {
    "herald-producer": "herald_publish_seconds_count",
    "herald-consumer": "herald_consumer_batch_size_count",
    "herald-ws-gateway": "herald_gateway_connections",
    "herald-persister": "herald_persist_stream_lag",
}


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed (.ci/run installs Debian's package)")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    return found


@pytest.fixture
async def prometheus(services: Callable[..., Service], tmp_path: Path
                     ) -> AsyncIterator[str]:
    binary = prometheus_binary()
    started = await asyncio.gather(*(services(m).start() for m in
                                     ("producer", "consumer", "ws_gateway", "persister")))
    jobs = dict(zip(("herald-producer", "herald-consumer", "herald-ws-gateway",
                     "herald-persister"), started, strict=True))
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [{"job_name": job, "static_configs": [
            {"targets": [f"127.0.0.1:{service.port}"]}]} for job, service in jobs.items()],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(scaled(10))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def query(url: str, expr: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        try:
            answer = await http.get("/api/v1/query", params={"query": expr})
        except httpx.TransportError as exc:
            return {"status": "unreachable", "error": repr(exc)}
        if answer.headers.get("content-type", "").split(";")[0] != "application/json":
            # Prometheus answers "Service Unavailable" in text until its TSDB is open.
            return {"status": "not_ready", "error": f"{answer.status_code} {answer.text[:200]}"}
        body: dict[str, object] = answer.json()
        return body


async def test_prometheus_scrapes_a_herald_metric_from_each_service(prometheus: str) -> None:
    for job, metric in FROM_EACH.items():
        answer = await eventually(
            lambda j=job, m=metric: query(prometheus, f'{m}{{job="{j}"}}'),  # type: ignore[misc]
            lambda a: a.get("status") == "success" and bool(a["data"]["result"]),  # type: ignore[index]
            timeout=30)
        [series] = answer["data"]["result"]  # type: ignore[index]
        assert series["metric"]["job"] == job

    dashboard = json.loads((DEPLOY / "grafana" / "herald.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    for expr in exprs:
        answer = await query(prometheus, expr)
        assert answer.get("status") == "success", (expr, answer)
