"""Herald's load tool: ``python -m bench <scenario>`` (see ``bench/RESULTS.md``).

One concern per module:

* :mod:`bench.stack` starts the four services on free ports under a fresh prefix, and
  deletes their queues and keys afterwards;
* :mod:`bench.http` is a hand-written HTTP/1.1 keep-alive client (see why there);
* :mod:`bench.seed` speaks Herald's surface or the seed's (``--protocol seed``);
* :mod:`bench.ingest`, :mod:`bench.e2e`, :mod:`bench.idle`, :mod:`bench.backlog`,
  :mod:`bench.fanout` are the scenarios;
* :mod:`bench.procstat` samples CPU and RSS of every process from ``/proc``;
* :mod:`bench.results` writes JSON and the markdown table; :mod:`bench.suite` runs them all.

Every load loop is bounded in count and in time, and only ever talks to 127.0.0.1.
"""

from __future__ import annotations

__all__: list[str] = []
