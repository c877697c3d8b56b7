"""The embedded PostgreSQL used when no DATABASE_URL is configured."""
