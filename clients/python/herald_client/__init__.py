"""Herald's Python client: the WebSocket gateway (:class:`HeraldClient`) and the read API
(:class:`ReadApi`). Same semantics as the JavaScript SDK in ``clients/js``."""

from __future__ import annotations

from herald_client.client import HeraldClient, HeraldError
from herald_client.inbox import InboxSeq
from herald_client.ledger import Ledger, Verdict
from herald_client.policy import Action, Backoff, after_close
from herald_client.reads import ReadApi

__all__ = ["Action", "Backoff", "HeraldClient", "HeraldError", "InboxSeq", "Ledger", "ReadApi",
           "Verdict", "after_close"]
