"""The notification buffer in Redis: its key schema (:mod:`.keys`), its Lua scripts
(:mod:`.scripts`), its entry formats (:mod:`.formats`) and the structures the services call
(inbox, pending, persist stream, expiry, erasure, token buckets).

A regular package (not a namespace one) so that the import contracts (``lint-imports``,
docs/DESIGN.md "Floors") see it. It re-exports nothing: import from the module that owns
the name.
"""

from __future__ import annotations

__all__: list[str] = []
