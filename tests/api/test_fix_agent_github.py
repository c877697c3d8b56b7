"""The GitHub App path against a local server speaking GitHub's REST endpoints: a verified RS256 app
JWT, a token scoped to one repository with contents: read, cached, reads pinned to the base SHA,
the check command on the tarball, and no credential anywhere the run leaves a trace."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.config import Settings
from tests.api.conftest import settings_for
from tests.support.fix import (
    ChatScript,
    buggy_repository,
    chat_completions_app,
    failing_session,
    fixing_diff,
    incident_of,
    repositories_file,
)
from tests.support.github import FakeGitHub, rsa_key_pair
from tests.support.server import RunningServer
from tests.support.tenants import Tenant, make_tenant

MODEL_KEY = "model-key-" + "g" * 30
CHECK = [sys.executable, "-c", "from calc.parse import parse_amount; assert parse_amount('12.50') == 1250"]


@dataclass
class Setup:
    client: httpx.Client
    tenant: Tenant
    script: ChatScript
    github: FakeGitHub
    repo: Path
    base_sha: str
    private_key: str


@pytest.fixture(scope="module")
def github_setup(database_url: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """Project 0 reads acme/calc through the app (with a check command); project 1 names a repository the
    installation does not include."""
    root = tmp_path_factory.mktemp("fix-github")
    repo = root / "calc"
    base_sha = buggy_repository(repo)
    private_key, public_key = rsa_key_pair()
    (root / "app.pem").write_text(private_key)
    github = FakeGitHub(app_id="424242", public_key=public_key, installation_id=77, owner="acme", repos={"calc": repo})
    tenant = make_tenant(database_url, settings, project_count=2)
    repositories = repositories_file(root / "repositories.json", {
        tenant.projects[0]: {"github": {"owner": "acme", "repo": "calc", "installation_id": 77}, "ref": "main",
                             "check": {"command": CHECK, "timeout_seconds": 30}},
        tenant.projects[1]: {"github": {"owner": "acme", "repo": "payroll", "installation_id": 77}},
    })
    script = ChatScript()
    with RunningServer(chat_completions_app(script)) as model, RunningServer(github.app()) as api:
        app = create_app(settings_for(
            database_url, AGENTDECK_FIX_MODEL_BASE_URL=model.base_url + "/v1", AGENTDECK_FIX_MODEL="fixer-1",
            AGENTDECK_FIX_MODEL_API_KEY=MODEL_KEY, AGENTDECK_FIX_REPOSITORIES=repositories,
            AGENTDECK_GITHUB_APP_ID="424242", AGENTDECK_GITHUB_APP_PRIVATE_KEY_FILE=str(root / "app.pem"),
            AGENTDECK_GITHUB_API_URL=api.base_url, AGENTDECK_FIX_BUDGET_SECONDS="30"), database_url)
        with RunningServer(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as client:
            yield Setup(client, tenant, script, github, repo, base_sha, private_key)


def _fix(setup: Setup, trace_id: str, answer: str, project_index: int = 0) -> httpx.Response:
    setup.script.content = answer
    failing_session(setup.client, setup.tenant, trace_id, project_index)
    incident = incident_of(setup.client, setup.tenant, trace_id)
    return setup.client.post(f"/api/incidents/{incident['id']}/fix-agent", headers=setup.tenant.user("member"))


def _answer(diff: str) -> str:
    return f"1. Parse decimals.\n\n```diff\n{diff}```\n"


def test_the_app_jwt_verifies_the_token_is_scoped_and_cached_and_every_read_is_pinned(github_setup: Setup) -> None:
    s = github_setup
    first = _fix(s, "gh-1", _answer(fixing_diff(s.repo)))
    assert first.status_code == 201, first.text
    run = first.json()
    assert (run["status"], run["base_sha"], run["repository"]) == ("completed", s.base_sha, "github:acme/calc"), run
    assert run["checks"]["status"] == "passed" and run["checks"]["exit_code"] == 0
    assert s.github.refusals == []
    assert s.github.token_requests == [{"repositories": ["calc"], "permissions": {"contents": "read"}}]
    assert _fix(s, "gh-2", _answer(fixing_diff(s.repo))).json()["status"] == "completed"
    assert len(s.github.token_requests) == 1, "the installation token is cached until shortly before it expires"
    assert s.github.reads[0] == ("commits", "main")
    assert all(at == s.base_sha for endpoint, at in s.github.reads if endpoint != "commits"), s.github.reads
    assert {endpoint for endpoint, _ in s.github.reads} == {"commits", "trees", "contents", "tarball"}


def test_a_repository_outside_the_installation_is_refused_by_github_and_labelled(github_setup: Setup) -> None:
    s = github_setup
    response = _fix(s, "gh-scope", _answer(fixing_diff(s.repo)), project_index=1)
    assert response.status_code == 201, response.text
    fallback = response.json()["fallback"]
    assert fallback["label"] == "repository_unavailable"
    assert "installation token" in fallback["reason"] and "HTTP 422" in fallback["reason"]
    assert s.github.token_requests[-1] == {"repositories": ["payroll"], "permissions": {"contents": "read"}}


def test_a_diff_that_applies_but_fails_the_check_command_is_checks_failed(github_setup: Setup) -> None:
    s = github_setup
    readme_only = ("--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n calc\n+Amounts may have decimals.\n")
    run = _fix(s, "gh-check", _answer(readme_only)).json()
    assert run["fallback"]["label"] == "checks_failed" and run["diff"] is None, run
    assert run["checks"]["status"] == "failed" and run["checks"]["exit_code"] == 1
    assert "AssertionError" in run["checks"]["output_tail"] or "ValueError" in run["checks"]["output_tail"]


def _database_text(database_url: str) -> str:
    async def dump() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            tables = await conn.fetch("select tablename from pg_tables where schemaname = 'app'")
            texts = [await conn.fetchval(f"select coalesce(string_agg(t::text, chr(10)), '') from app.{t['tablename']} t")
                     for t in tables]
            return "\n".join(texts)
        finally:
            await conn.close()

    return asyncio.run(dump())


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_no_token_or_key_appears_in_any_response_log_line_or_database_row(
    github_setup: Setup, database_url: str
) -> None:
    s = github_setup
    capture = _Capture()
    capture.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        responses = [_fix(s, "gh-secrets", _answer(fixing_diff(s.repo))),
                     _fix(s, "gh-secrets-bad", _answer("--- a/calc/parse.py\n+++ b/calc/parse.py\n@@ -1 +1 @@\n-x\n+y\n")),
                     _fix(s, "gh-secrets-scope", "1. none", project_index=1)]
        incident_id = responses[0].json()["incident_id"]
        responses.append(s.client.get(f"/api/incidents/{incident_id}/fix-runs", headers=s.tenant.key()))
        responses.append(s.client.get("/api/incidents", headers=s.tenant.user("member")))
    finally:
        root.removeHandler(capture)
        root.setLevel(level)
    assert [r.status_code for r in responses] == [201, 201, 201, 200, 200]
    haystack = "\n".join([*(r.text + str(r.headers) for r in responses), *capture.lines, _database_text(database_url)])

    # Not vacuous: the run, its commit and the HTTP calls to GitHub are all in there.
    assert responses[0].json()["fix_run_id"] in haystack and s.base_sha in haystack
    assert any("access_tokens" in line for line in capture.lines), "httpx request logs were captured"
    assert any("_codeload" in line for line in capture.lines), "the redirected download was logged (without its query)"
    secrets = [*s.github.tokens, *s.github.app_jwts, *s.github.download_tokens, MODEL_KEY]
    secrets += [line for line in s.private_key.splitlines() if line and not line.startswith("-----")]
    assert len(s.github.tokens) >= 1 and len(secrets) > 20
    leaked = [secret[:12] + "…" for secret in secrets if secret in haystack]
    assert leaked == []
