"""SDK tests run the real SDK against a real server (and a local chat-completions server for the OpenAI hook)."""

from __future__ import annotations

from tests.api.conftest import client, server, settings, start_server, tenant  # noqa: F401 (shared fixtures)
