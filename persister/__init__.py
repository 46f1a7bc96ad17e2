"""Herald's persister: moves acked and expired notifications from the Redis persist stream to
the store, and turns notifications whose TTL ran out unacked into ``expired`` entries.

``stream.py`` (the consumer group: read, claim, acknowledge, dead-letter, trim),
``worker.py`` (batches into the store, acked after it confirmed), ``sweeper.py`` (expiry),
``retry.py`` (backoff until success, or a drain), ``app.py`` (wiring, probes, drain),
``settings.py``, ``metrics.py``.
"""
