"""Topics (issue 20): who is subscribed to what (:mod:`producer.topics.routes`)."""
