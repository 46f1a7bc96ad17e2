"""Topics (issue 20): subscriptions (H6's routes) and the progress and cancel of a topic
event's fan-out, :mod:`producer.topics.fanouts`."""
