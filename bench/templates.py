"""The consumer's cost of templates: notifications made per second with today's fixed
formatting and with templates, side by side in one process and one run.

What is timed is the consumer's making step for a batch of ``--events`` events (one
recipient each, in batches of 128 as the consumer's prefetch): the decision
(:func:`consumer.making.decide`), the message and :func:`consumer.rules.build_notifications`.
Redis and RabbitMQ are left out on purpose: their cost is the same in every row (the
``consumer`` scenario measures the whole service). Rows:

* ``fixed`` — :func:`consumer.rules.format_message`, the formatting before templates;
* ``default templates`` — the built-in types' default templates (what a tenant that changed
  nothing runs: they take :func:`~consumer.rules.format_message`'s path, which a test holds
  equal to rendering them, so this row is the cost of looking the template up);
* ``tenant template`` — a stored template reading ``data`` with a filter and a condition;
* ``per recipient`` — a template that names the recipient, so it renders once per recipient
  (events with 10 recipients: notifications/s is the figure to compare).

Each row is the best of three passes (the least disturbed by the machine); ``ratio`` is its
rate over ``fixed``'s.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from common.catalog import TemplateDef, TenantConfig, TypeDef
from common.models import Event
from consumer.making import decide, never_quiet
from consumer.rendering import Job, render_jobs
from consumer.rules import build_notifications

__all__ = ["run_templates"]

BATCH = 128
PASSES = 3
TASK = TypeDef("task.assigned", "transactional")
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _events(count: int, kind: str, recipients: int) -> list[Event]:
    data = {"task": {"title": "Ship the release notes", "project": "Herald"}, "due": "Friday"}
    return [Event(eventId=f"e{i}", type=kind, actorId=f"a{i % 997}",
                  recipients=[f"u{(i + r) % 1000}" for r in range(recipients)],
                  postId=f"p{i}", data=data if kind == TASK.name else None,
                  occurredAt=NOW, acceptedAt=NOW) for i in range(count)]


def _make(events: list[Event], config: TenantConfig | None) -> int:
    """The making step for ``events``; notifications made. ``config`` ``None``: fixed."""
    made = 0
    for start in range(0, len(events), BATCH):
        batch = events[start:start + BATCH]
        if config is None:
            for event in batch:
                made += len(build_notifications(event, NOW, 60))
            continue
        jobs = []
        for event in batch:
            typedef = config.type_of(event.type)
            assert typedef is not None
            recipients = [d.recipient for d in decide(event, typedef, event.recipients, {}, NOW,
                                                      never_quiet)]
            jobs.append(Job(event, config, None, recipients))
        render_jobs(jobs)
        for job in jobs:
            assert job.error is None, job.error
            made += len(build_notifications(job.event, NOW, 60, job.messages, "promotional"))
    return made


def _row(label: str, events: list[Event], config: TenantConfig | None) -> dict[str, Any]:
    best = float("inf")
    made = 0
    for _ in range(PASSES):
        started = time.perf_counter()
        made = _make(events, config)
        best = min(best, time.perf_counter() - started)
    return {"label": label, "events": len(events), "notifications": made,
            "seconds": round(best, 4), "events_per_s": round(len(events) / best),
            "notifications_per_s": round(made / best)}


async def run_templates(opts: argparse.Namespace) -> dict[str, Any]:
    count = opts.events
    tenant = TenantConfig("bench", {TASK.name: TASK}, {
        (TASK.name, "en"): TemplateDef(
            TASK.name, "en", "{{ actorId }} assigned you “{{ data.task.title|truncate(40) }}”"
            "{% if data.due %}, due {{ data.due }}{% endif %} in {{ data.task.project }}", 1,
            NOW),
    })
    per_recipient = TenantConfig("bench", {TASK.name: TASK}, {
        (TASK.name, "en"): TemplateDef(TASK.name, "en", "Hi {{ userId }}, {{ actorId }} "
                                       "assigned you {{ data.task.title }}", 1, NOW),
    })
    likes = _events(count, "LIKE", 1)
    rows = [
        _row("fixed", likes, None),
        _row("default templates", likes, TenantConfig("bench")),
        _row("tenant template", _events(count, TASK.name, 1), tenant),
        _row("per recipient (10 each)", _events(max(count // 10, 1), TASK.name, 10),
             per_recipient),
    ]
    fixed = rows[0]["notifications_per_s"]
    for row in rows:
        row["ratio"] = round(row["notifications_per_s"] / fixed, 3)
    return {"scenario": "templates", "rows": rows,
            "headline": {"fixed_per_s": fixed,
                         "default_templates_per_s": rows[1]["notifications_per_s"],
                         "tenant_template_per_s": rows[2]["notifications_per_s"],
                         "tenant_template_ratio": rows[2]["ratio"]}}
