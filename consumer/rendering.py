"""The message of a notification: the tenant's template for its type and locale, rendered in
the sandbox (:mod:`common.templates`), off the event loop.

What a template reads (its *context*): the event's fields (``type``, ``eventId``,
``tenantId``, ``actorId``, ``postId``, ``commentId``, ``text``, ``data``, ``occurredAt``),
``locale`` (the one rendering), ``userId``/``recipientId`` (the recipient), and for digests
``count`` (distinct actors), ``others`` (``count`` minus 1) and ``actors`` (the latest, newest
first). A template that reads the recipient is rendered once per recipient; every other once
per event and locale.

Which template: the one in force when the notification is *made* (the consumer takes the
event, or releases it from quiet hours), as the consumer's config cache sees it
(``HERALD_CONFIG_TTL_SECONDS``). Undefined names are errors (strict): a template that fails on
an event's data raises :class:`~common.templates.TemplateRefused`, and the pipeline
dead-letters that event with reason ``template_failed``; the batch's other events go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from common.catalog import TemplateDef, TenantConfig
from common.models import Event, is_builtin
from common.templates import DEFAULT_TEMPLATES, TemplateRefused, names_read, render
from consumer.rules import format_message

__all__ = ["RECIPIENT_NAMES", "Job", "context", "render_jobs"]

RECIPIENT_NAMES = frozenset({"userId", "recipientId"})


def context(event: Event, locale: str, recipient: str | None = None, count: int = 1,
            actors: Sequence[str] = ()) -> dict[str, Any]:
    """The names a template may read for ``event`` (see the module's docstring)."""
    return {
        "type": event.type, "eventId": event.eventId, "tenantId": event.tenantId,
        "actorId": event.actorId, "postId": event.postId, "commentId": event.commentId,
        "text": event.text, "data": event.data if event.data is not None else {},
        "occurredAt": event.occurredAt.isoformat().replace("+00:00", "Z"),
        "locale": locale, "userId": recipient, "recipientId": recipient,
        "count": count, "others": max(count - 1, 0),
        "actors": list(actors) if actors else [event.actorId],
    }


@dataclass(slots=True)
class Job:
    """The messages of one event for some recipients, all in one ``locale``: ``messages``
    (recipient → text) once rendered, or ``error`` (the sandbox's reason)."""

    event: Event
    config: TenantConfig
    locale: str | None
    recipients: list[str]
    count: int = 1
    actors: Sequence[str] = ()
    messages: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    template_version: int = 0


def _run(job: Job) -> None:
    template = job.config.template_for(job.event.type, job.locale)
    job.template_version = template.version
    locale = template.locale or job.locale or job.config.default_locale
    if _is_builtin_default(template, job):
        # The built-in default templates write exactly what format_message writes
        # (tests/unit/test_templates.py holds them equal): a tenant that changed nothing
        # pays nothing for the sandbox.
        job.messages = dict.fromkeys(job.recipients, format_message(job.event))
        return
    try:
        if names_read(template.source) & RECIPIENT_NAMES:
            for recipient in job.recipients:
                job.messages[recipient] = render(template.source, context(
                    job.event, locale, recipient, job.count, job.actors))
        else:
            text = render(template.source, context(job.event, locale, None, job.count,
                                                   job.actors))
            job.messages = dict.fromkeys(job.recipients, text)
        if any(not text.strip() for text in job.messages.values()):
            raise TemplateRefused("it rendered nothing (only blanks) for this event")
    except TemplateRefused as exc:
        job.messages = {}
        job.error = f"{job.event.type} template ({template.locale or 'default'}, version " \
                    f"{template.version}): {exc.reason}"


def _is_builtin_default(template: TemplateDef, job: Job) -> bool:
    return (template.version == 0 and job.count == 1 and is_builtin(job.event.type)
            and template.source == DEFAULT_TEMPLATES.get(job.event.type))


def render_jobs(jobs: Sequence[Job]) -> None:
    """Render every job in place (meant for ``asyncio.to_thread``: a template may take up
    to its 50 ms budget, and the event loop has heartbeats to answer)."""
    for job in jobs:
        _run(job)
