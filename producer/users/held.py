"""A user's notifications held for quiet hours follow their settings when these change.

After ``PUT /v1/users/{userId}/preferences`` or ``/profile`` the producer moves every held
notification of the user to the end of their quiet hours *as now set* (in their time zone as
now set), or to now when they are not quiet any more: the consumer's releaser then makes them
at its next turn. A later end is caught anyway (every release is checked again); an earlier
one would otherwise wait for the old end. If Redis does not answer, the write stands (the
store has it) and the held notifications keep their old end: logged, not an error.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.buffer.held import HeldBuffer, HeldEntry
from common.buffer.keys import BufferKeys
from common.logs import get_logger
from common.millis import to_ms
from common.models import utc_now
from common.preferences import UserSettings
from common.quiet_hours import quiet_until
from producer.users.routes import Changed

__all__ = ["rescheduler"]

log = get_logger(__name__)


def rescheduler(redis: Redis, keys: BufferKeys) -> Changed:
    held = HeldBuffer(redis, keys)

    async def changed(tenant_id: str, user_id: str, settings: UserSettings) -> None:
        now = utc_now()
        try:
            until = quiet_until(settings.quiet_hours, settings.time_zone, now)
        except ValueError:  # a zone this machine's tz database lacks: release now
            until = None
        release_ms = to_ms(until if until is not None else now)

        def new_release(entry: HeldEntry) -> int | None:
            return None if entry.release_ms == release_ms else release_ms

        try:
            moved = await held.reschedule(tenant_id, user_id, new_release)
        except (RedisError, OSError) as exc:
            log.warning("held notifications not moved to the user's new quiet hours",
                        tenantId=tenant_id, error=repr(exc)[:300])
            return
        if moved:
            log.info("held notifications moved to the user's new quiet hours",
                     tenantId=tenant_id, moved=moved)

    return changed
