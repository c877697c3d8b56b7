"""agentdeck: a Postgres-centric backend for debugging AI agents."""

__version__ = "0.1.0"
