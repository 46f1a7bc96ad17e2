"""The operator's console: ``/console`` (pages) and the admin API under ``/v1/admin/``."""
