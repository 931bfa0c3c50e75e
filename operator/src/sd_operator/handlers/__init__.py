"""kopf registrations only: each handler parses, calls the reconciler, and writes status."""
