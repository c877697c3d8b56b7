"""Fix-agent request time by runner: rules only, model with a local checkout, and with the check command.

    python -m bench.fix_agent

In-process servers (agentdeck, a local chat-completions server answering at once) and the buggy
repository of the tests, so the figures are agentdeck's own cost: its two transactions, the git
reads, `git apply --check` and the check command. A hosted model's answer time comes on top.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from api.app import create_app
from api.config import load_settings
from bench.common import _drop, _prepare
from tests.support.fix import (
    ChatScript,
    buggy_repository,
    chat_completions_app,
    failing_session,
    fixing_diff,
    incident_of,
    repositories_file,
)
from tests.support.server import RunningServer
from tests.support.target import server_url
from tests.support.tenants import make_tenant

ROUNDS = {"rules": 30, "model": 15, "model + check": 10}
CHECK = [sys.executable, "-c", "from calc.parse import parse_amount; assert parse_amount('12.50') == 1250"]


def main() -> None:
    server = os.environ.get("DATABASE_URL") or server_url()
    name = f"agentdeck_bench_{secrets.token_hex(4)}"
    url, _ = asyncio.run(_prepare(server, name))
    try:
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            repo = root / "repo"
            buggy_repository(repo)
            env = {"DATABASE_URL": url, "AGENTDECK_JWT_SECRET": secrets.token_urlsafe(40),
                   "AGENTDECK_RATE_PER_SECOND": "100000", "AGENTDECK_RATE_BURST": "100000", "AGENTDECK_WORKER": "0"}
            tenant = make_tenant(url, load_settings(env), project_count=2)
            script = ChatScript(content=f"1. Parse decimals.\n```diff\n{fixing_diff(repo)}```")
            with RunningServer(chat_completions_app(script)) as model:
                repositories = repositories_file(root / "repositories.json", {
                    tenant.projects[0]: {"local": str(repo)},
                    tenant.projects[1]: {"local": str(repo), "check": {"command": CHECK}},
                })
                settings = {"rules": load_settings(env), "model": load_settings({
                    **env, "AGENTDECK_FIX_MODEL_BASE_URL": model.base_url + "/v1", "AGENTDECK_FIX_MODEL": "m",
                    "AGENTDECK_FIX_REPOSITORIES": repositories})}
                for case, rounds in ROUNDS.items():
                    project = 1 if case == "model + check" else 0
                    app = create_app(settings["rules" if case == "rules" else "model"], url)
                    with RunningServer(app) as api, httpx.Client(base_url=api.base_url, timeout=60) as client:
                        failing_session(client, tenant, f"bench-{project}-{case[:5]}", project)
                        incident = incident_of(client, tenant, f"bench-{project}-{case[:5]}")
                        times = []
                        for _ in range(rounds):
                            started = time.perf_counter()
                            response = client.post(f"/api/incidents/{incident['id']}/fix-agent",
                                                   headers=tenant.user("member"))
                            times.append(time.perf_counter() - started)
                            assert response.status_code == 201, response.text
                        run = response.json()
                        print(f"{case:>14}: median {statistics.median(times) * 1000:6.1f} ms over {rounds} requests"
                              f"  status={run['status']} last timings={run['timings']}")
    finally:
        asyncio.run(_drop(server, name))


if __name__ == "__main__":
    main()
