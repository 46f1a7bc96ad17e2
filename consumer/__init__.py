"""Herald's consumer: turns events from RabbitMQ into notifications buffered in Redis."""
