"""The user's inbox counts as last shown: only a newer state (a higher ``seq``) replaces them.

Every mark of a user's notifications (over the read API, or a ``MARK`` frame of any of their
connections) makes the server count again after it and announce ``{seq, mark,
notificationIds, all, at, unseen, unread}`` to every connection of the user as
``INBOX_STATE``; a higher ``seq`` has newer counts. Two states may arrive out of order (two
gateways, the read API's answer and the frame of the same mark), so an older one is dropped:
a badge never goes back to older counts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["InboxSeq"]


class InboxSeq:
    def __init__(self) -> None:
        self.seq = 0
        self.state: dict[str, Any] | None = None

    def accept(self, state: dict[str, Any]) -> bool:
        """Keep ``state`` if its ``seq`` is above the last kept one; whether it was."""
        seq = state.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq <= self.seq:
            return False
        self.seq, self.state = seq, state
        return True
