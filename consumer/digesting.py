"""The consumer's side of digests (:mod:`common.buffer.digest`): which digest an event's
notification joins, and its message for the digest's state, rendered off the event loop.

A type with ``digestWindowSeconds`` > 0 digests: per recipient, events of the type whose
``digestBy`` values are equal join one notification for the window (built-in LIKE: per
``postId`` and ``commentId``; FOLLOW: every follow of the recipient). Its message is the
type's template rendered with ``count`` (distinct actors), ``others`` (``count`` minus 1) and
``actors`` (the latest, newest first): "zoe and 11 others liked your post".
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from common.buffer.digest import DigestCandidate, DigestState
from common.catalog import TenantConfig, TypeDef
from common.models import Event
from common.templates import TemplateRefused
from consumer.rendering import Job, render_jobs

__all__ = ["Digestible", "group_of", "render_states"]


def group_of(typedef: TypeDef, event: Event) -> str:
    """The text that names the event's digest among the type's: its ``digestBy`` values,
    ``name=value`` joined by ``|`` (a ``data.<key>`` value as JSON; absent: ``null``)."""
    parts = []
    for name in typedef.digest_by:
        if name.startswith("data."):
            value = (event.data or {}).get(name.removeprefix("data."))
            text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        else:
            text = str(getattr(event, name, None) or "")
        parts.append(f"{name}={text}")
    return "|".join(parts)


@dataclass(frozen=True, slots=True)
class Digestible:
    """A digest candidate with what its message is rendered from."""

    candidate: DigestCandidate
    event: Event
    config: TenantConfig
    locale: str | None


def _render_one(item: Digestible, state: DigestState) -> str | Exception:
    recipient = item.candidate.notification.userId
    job = Job(item.event, item.config, item.locale, [recipient], count=state.count,
              actors=state.actors)
    render_jobs([job])
    if job.error is not None:
        return TemplateRefused(job.error)
    return job.messages[recipient]


async def render_states(items: dict[str, Digestible], states: Sequence[DigestState]
                        ) -> list[str | Exception]:
    """One message (or the template's refusal) per state, in a thread; ``items`` by the
    candidate's notification id."""

    def run() -> list[str | Exception]:
        return [_render_one(items[s.candidate.notification.id], s) for s in states]

    return await asyncio.to_thread(run)
