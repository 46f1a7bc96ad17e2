"""Which notifications the app has seen and which ACKs are still owed (pure, no I/O).

After a reconnect the gateway replays everything still pending, so a notification the app
already has may come again. The ledger decides, per notification frame:

* new → deliver it to the app;
* delivered before and ACKed by the app → do not deliver; ACK it again (the first ACK was lost
  with the old connection, or is still on its way: ACKs are idempotent);
* delivered before, not ACKed yet → do not deliver (the app's ACK will follow);
* delivered before, and this is a higher ``version`` (a digest's update, the gateway's
  ``NOTIFICATION_UPDATE`` or a replay of the latest body) → deliver it again as an update
  (:attr:`Verdict.UPDATE`); an older or equal version never comes after a newer one.

ACKs wait in ``owed`` until the gateway answers ``ACK_OK`` (listing them as acknowledged or
``unknown``); every one still owed is sent again on the next connection, and after an
``ERROR TRY_AGAIN``. The memory of seen ids is bounded (``remember`` entries, oldest dropped).
"""

from __future__ import annotations

from collections import OrderedDict
from enum import Enum

__all__ = ["Ledger", "Verdict"]


class Verdict(Enum):
    DELIVER = "deliver"
    UPDATE = "update"
    REACK = "reack"
    SKIP = "skip"


class Ledger:
    def __init__(self, remember: int = 10_000) -> None:
        self._remember = remember
        self._seen: OrderedDict[str, bool] = OrderedDict()  # id -> acked by the app
        self._versions: dict[str, int] = {}  # id -> the highest version seen, when above 1
        self.owed: dict[str, None] = {}  # ACKs not confirmed by the gateway, in order
        self.unsent: dict[str, None] = {}  # owed ACKs not written on the current connection
        self.duplicates = 0

    def on_notification(self, notification_id: str, version: int = 1) -> Verdict:
        acked = self._seen.get(notification_id)
        if acked is None:
            self._seen[notification_id] = False
            if version > 1:
                self._versions[notification_id] = version
            if len(self._seen) > self._remember:
                oldest, _ = self._seen.popitem(last=False)
                self._versions.pop(oldest, None)
            return Verdict.DELIVER
        self._seen.move_to_end(notification_id)
        if version > self._versions.get(notification_id, 1):
            self._versions[notification_id] = version
            return Verdict.UPDATE
        self.duplicates += 1
        if acked:
            self.ack([notification_id])
            return Verdict.REACK
        return Verdict.SKIP

    def ack(self, ids: list[str]) -> None:
        for notification_id in ids:
            if notification_id in self._seen:
                self._seen[notification_id] = True
            self.owed[notification_id] = None
            self.unsent[notification_id] = None

    def take_unsent(self, limit: int) -> list[str]:
        """Up to ``limit`` owed ids to write now (they stay owed until ACK_OK)."""
        batch = list(self.unsent)[:limit]
        for notification_id in batch:
            del self.unsent[notification_id]
        return batch

    def on_ack_ok(self, acked: list[str], unknown: list[str]) -> None:
        for notification_id in (*acked, *unknown):
            self.owed.pop(notification_id, None)
            self.unsent.pop(notification_id, None)

    def on_try_again(self, ids: list[str]) -> None:
        for notification_id in ids:
            if notification_id in self.owed:
                self.unsent[notification_id] = None

    def on_reconnect(self) -> None:
        """A new connection: every owed ACK is written again."""
        self.unsent = dict(self.owed)
