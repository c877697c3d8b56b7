"""`agentdeck regression wait RUN_ID`: exit codes and the verdict table, against a real server."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.support.regression import agent_run, failing_incident, settled
from tests.support.server import RunningServer
from tests.support.tenants import Tenant


def gate(server: RunningServer, run_id: str, api_key: str | None, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENTDECK_API_KEY"}
    if api_key is not None:
        env["AGENTDECK_API_KEY"] = api_key
    return subprocess.run(
        [sys.executable, "-m", "api", "regression", "wait", run_id, "--url", server.base_url, "--interval", "0.05",
         *extra],
        env=env, capture_output=True, text=True, timeout=60,
    )


@pytest.fixture
def runs(client: httpx.Client, tenant: Tenant) -> dict[str, str]:
    """A passed, a failed and a pending run of one incident."""
    key = tenant.key()
    incident = failing_incident(client, key, "gate", 1)["id"]
    agent_run(client, key, "gate-clean", "clean", task_key="gate-t1")
    agent_run(client, key, "gate-failing", "not_found", task_key="gate-t1")
    made = {}
    for name, after in (("passed", ["gate-clean"]), ("failed", ["gate-failing"]), ("pending", [])):
        response = client.post(f"/api/incidents/{incident}/regression-runs",
                               json={"after_session_ids": after, "before_session_ids": ["gate-before-1"]}, headers=key)
        made[name] = response.json()["id"]
    for name in ("passed", "failed"):
        assert settled(client, key, made[name])["status"] == name
    return made


def test_exit_codes_say_passed_failed_and_still_pending(
    server: RunningServer, tenant: Tenant, runs: dict[str, str]
) -> None:
    secret = tenant.keys[tenant.projects[0]]
    passed = gate(server, runs["passed"], secret)
    assert passed.returncode == 0, passed.stderr
    assert "gate-t1  gate-before-1  gate-clean" in passed.stdout and passed.stdout.splitlines()[1].endswith("fixed")
    assert "sign test: 1 improved, 0 worsened, p = 1" in passed.stdout

    failed = gate(server, runs["failed"], secret)
    assert failed.returncode == 1 and failed.stdout.splitlines()[1].endswith("still_failing")
    pending = gate(server, runs["pending"], secret, "--timeout", "0.2")
    assert pending.returncode == 3 and "still pending" in pending.stderr


def test_an_unreadable_run_is_exit_code_4_and_the_key_never_printed(
    server: RunningServer, tenant: Tenant, other_tenant: Tenant, runs: dict[str, str]
) -> None:
    stranger = other_tenant.keys[other_tenant.projects[0]]
    for run_id, secret in ((runs["passed"], stranger), ("rr_nope", tenant.keys[tenant.projects[0]]),
                           (runs["passed"], "adk_not_a_key")):
        result = gate(server, run_id, secret)
        assert result.returncode == 4, result.stderr
        assert secret not in result.stdout + result.stderr
    missing = gate(server, runs["passed"], None)
    assert missing.returncode == 4 and "AGENTDECK_API_KEY" in missing.stderr
