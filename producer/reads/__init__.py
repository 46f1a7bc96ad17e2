"""What a user reads: the read API, the privacy routes (export, erasure) and the short-lived
user tokens a tenant's backend mints for the gateway and the read API."""
