"""Tenants and their keys (the admin API and ``python -m producer.admin``), and the operator's
console under it."""
