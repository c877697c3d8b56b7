"""HTTP tests run against a real uvicorn server and the session's real test database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.config import Settings, load_settings
from tests.support.server import RunningServer
from tests.support.tenants import Tenant, make_tenant

# Test servers keep their artifacts and keys under the repository's ignored .agentdeck/, as before.
TEST_DATA_DIR = Path(__file__).resolve().parents[2] / ".agentdeck" / "test-data"
JWT_SECRET = "test-jwt-secret-" + "s" * 40
SERVICE_TOKEN = "test-service-token-" + "t" * 40


def settings_for(database_url: str, **overrides: str) -> Settings:
    env = {
        "DATABASE_URL": database_url,
        "AGENTDECK_DATA_DIR": str(TEST_DATA_DIR),
        "AGENTDECK_JWT_SECRET": JWT_SECRET,
        "AGENTDECK_SERVICE_TOKEN": SERVICE_TOKEN,
        "AGENTDECK_RATE_PER_SECOND": "100000",
        "AGENTDECK_RATE_BURST": "100000",
        # Tests deliberately fail authentication from one address; tests/api/test_throttling.py lowers these.
        "AGENTDECK_UNVERIFIED_RATE_PER_SECOND": "100000",
        "AGENTDECK_UNVERIFIED_BURST": "100000",
        **overrides,
    }
    return load_settings(env)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture(scope="session")
def server(settings: Settings, database_url: str) -> Iterator[RunningServer]:
    with RunningServer(create_app(settings, database_url)) as running:
        yield running


@pytest.fixture
def start_server(database_url: str) -> Callable[..., AbstractContextManager[RunningServer]]:
    """A server of its own, for tests that need other settings (limits) or another database URL."""

    def start(url: str | None = None, **overrides: str) -> RunningServer:
        return RunningServer(create_app(settings_for(database_url, **overrides), url or database_url))

    return start


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield http


@pytest.fixture
def tenant(database_url: str, settings: Settings) -> Tenant:
    return make_tenant(database_url, settings)


@pytest.fixture
def other_tenant(database_url: str, settings: Settings) -> Tenant:
    return make_tenant(database_url, settings)
