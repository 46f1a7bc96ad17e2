"""Herald's producer: the HTTP API that validates activity events and publishes them to
RabbitMQ with publisher confirms."""
