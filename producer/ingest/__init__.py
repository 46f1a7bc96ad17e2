"""Events in: ``POST /v1/events`` and ``/v1/events/batch`` and the seed's routes, served by the
fast lane in front of Starlette; the caller's rate limit; the publisher and its confirms."""
