"""Topics (issue 20): who is subscribed to what (:mod:`producer.topics.routes`) and the
progress and cancel of a topic event's fan-out (:mod:`producer.topics.fanouts`)."""
