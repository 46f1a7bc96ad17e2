"""What a user (or a tenant's backend on their behalf) sets: the profile (locale, time zone)
and the preferences (per type on/off, quiet hours), :mod:`producer.users.routes`."""
