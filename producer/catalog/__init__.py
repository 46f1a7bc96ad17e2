"""What a product team configures about its notifications (issue 19): its event types and
their stored templates (:mod:`producer.catalog.routes`), and previewing a template against
sample data (:mod:`producer.catalog.preview`)."""
