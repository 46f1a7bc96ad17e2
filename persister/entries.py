"""Persist-stream entries decoded straight into store rows: the format is the buffer owner's
(:func:`common.buffer.formats.decode_entry`, beside its encoder); re-exported here as the
persister's ``decode``.

Any entry that is not what a gateway, a sweeper or the read API writes raises ``ValueError``
with what is wrong (pydantic's ``ValidationError`` is one); the worker dead-letters it.
"""

from __future__ import annotations

from common.buffer.formats import MAX_MS, MIN_MS
from common.buffer.formats import decode_entry as decode

__all__ = ["MAX_MS", "MIN_MS", "decode"]
