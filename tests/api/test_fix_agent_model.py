"""The model runner against a local chat-completions server (reached through the real httpx client)
and a real git repository holding the bug: a diff comes back only when it applies at base_sha."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.config import Settings
from tests.api.conftest import settings_for
from tests.support.fix import (
    ChatScript,
    buggy_repository,
    chat_completions_app,
    failing_session,
    fixing_diff,
    git,
    incident_of,
    repositories_file,
)
from tests.support.server import RunningServer
from tests.support.tenants import Tenant, make_tenant

MODEL_KEY = "model-key-" + "k" * 30
BUDGET_SECONDS = 30.0  # generous: git and the checks run on a loaded, shared machine
TIGHT_BUDGET_SECONDS = 3.0  # for the timeout test's own server
HANG = [sys.executable, "-c", "import time; print('working', flush=True); time.sleep(60)"]
# The repository's test, run by the check command; it also proves the environment is scrubbed.
CHECK = [sys.executable, "-c", (
    "import os; from calc.parse import parse_amount; print(sorted(os.environ)); "
    "assert not any(k.startswith('AGENTDECK') for k in os.environ); assert parse_amount('12.50') == 1250"
)]


@dataclass
class Setup:
    client: httpx.Client
    tenant: Tenant
    script: ChatScript
    repo: Path
    base_sha: str
    tight: httpx.Client  # the same, with a budget of TIGHT_BUDGET_SECONDS
    last_elapsed: float = 0.0


@pytest.fixture(scope="module")
def model_setup(database_url: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """One tenant: project 0 has the buggy repository, 1 a path that is no repository, 2 none at all, 3 the
    repository with its check command, 4 with a check command that hangs."""
    root = tmp_path_factory.mktemp("fix-model")
    repo = root / "repo"
    base_sha = buggy_repository(repo)
    tenant = make_tenant(database_url, settings, project_count=5)
    repositories = repositories_file(root / "repositories.json", {
        tenant.projects[0]: {"local": str(repo), "ref": "main"},
        tenant.projects[1]: {"local": str(root / "missing")},
        tenant.projects[3]: {"local": str(repo), "ref": "main", "check": {"command": CHECK, "timeout_seconds": 30}},
        tenant.projects[4]: {"local": str(repo), "check": {"command": HANG, "timeout_seconds": 0.5}},
    })
    script = ChatScript()
    with RunningServer(chat_completions_app(script)) as model:
        def app(budget: float) -> Starlette:
            return create_app(settings_for(database_url, AGENTDECK_FIX_MODEL_BASE_URL=model.base_url + "/v1",
                                           AGENTDECK_FIX_MODEL="fixer-1", AGENTDECK_FIX_MODEL_API_KEY=MODEL_KEY,
                                           AGENTDECK_FIX_REPOSITORIES=repositories,
                                           AGENTDECK_FIX_BUDGET_SECONDS=str(budget),
                                           AGENTDECK_FIX_MAX_DIFF_BYTES="20000"), database_url)

        with (RunningServer(app(BUDGET_SECONDS)) as server, RunningServer(app(TIGHT_BUDGET_SECONDS)) as tight,
              httpx.Client(base_url=server.base_url, timeout=60) as client,
              httpx.Client(base_url=tight.base_url, timeout=60) as tight_client):
            yield Setup(client, tenant, script, repo, base_sha, tight_client)


def _fix(setup: Setup, trace_id: str, content: str, project_index: int = 0, status: int = 200,
         tight: bool = False) -> dict[str, object]:
    setup.script.content, setup.script.status = content, status
    setup.script.requests.clear()
    failing_session(setup.client, setup.tenant, trace_id, project_index)
    incident = incident_of(setup.client, setup.tenant, trace_id)
    member = setup.tenant.user("member")
    started = time.monotonic()
    response = (setup.tight if tight else setup.client).post(f"/api/incidents/{incident['id']}/fix-agent",
                                                             headers=member)
    setup.last_elapsed = time.monotonic() - started
    assert response.status_code == 201, response.text
    run: dict[str, object] = response.json()
    return run


def _answer(diff: str) -> str:
    return ("The amount has decimals, so int() fails.\n\n1. Parse the amount as a decimal number.\n"
            f"2. Round to whole cents.\n\n```diff\n{diff}```\n\nThis keeps whole amounts working.")


def test_a_valid_diff_comes_back_applies_at_the_named_base_sha_and_the_model_saw_the_file(model_setup: Setup) -> None:
    diff = fixing_diff(model_setup.repo)
    run = _fix(model_setup, "fm-valid", _answer(diff))
    assert (run["status"], run["runner"], run["fallback"]) == ("completed", "model", None), run
    assert run["base_sha"] == model_setup.base_sha and run["model"] == "fixer-1"
    assert run["diff"] == diff and run["files"] == ["calc/parse.py"]
    assert {"step": "change", "text": "Parse the amount as a decimal number."} in run["plan"]  # type: ignore[operator]

    # Applies, checked here with git itself, in a clean worktree at the pinned commit.
    worktree = model_setup.repo.parent / "check-worktree"
    git(model_setup.repo, "worktree", "add", "--detach", str(worktree), str(run["base_sha"]))
    applied = subprocess.run(["git", "apply", "--check", "-"], cwd=worktree, input=str(run["diff"]), text=True,
                             capture_output=True)
    assert applied.returncode == 0, applied.stderr

    asked = model_setup.script.requests[-1]
    assert asked["model"] == "fixer-1" and asked["max_tokens"] > 0
    assert model_setup.script.authorizations[-1] == f"Bearer {MODEL_KEY}"
    prompt = "\n".join(m["content"] for m in asked["messages"])
    assert "return int(text) * 100" in prompt, "the repository file was sent"
    assert "invalid literal for int()" in prompt and model_setup.base_sha in prompt
    assert "sk-live-should-never-leave-the-server" not in prompt, "secrets in events are redacted"


def test_a_diff_with_wrong_context_lines_is_invalid_diff_with_the_rules_plan(model_setup: Setup) -> None:
    wrong = fixing_diff(model_setup.repo).replace(' """The amount in cents."""', ' """The amount, in cents."""')
    run = _fix(model_setup, "fm-context", _answer(wrong))
    assert run["status"] == "fallback" and run["diff"] is None
    assert run["fallback"]["label"] == "invalid_diff", run  # type: ignore[index]
    assert "git apply --check" in run["fallback"]["reason"]  # type: ignore[index]
    assert run["base_sha"] == model_setup.base_sha
    assert [s["step"] for s in run["plan"]] == ["what_failed", "cause", "change", "verify"]  # type: ignore[attr-defined]


def test_a_model_answering_500_is_model_error_not_a_500(model_setup: Setup) -> None:
    run = _fix(model_setup, "fm-500", "", status=500)
    assert run["fallback"] == {"label": "model_error", "reason": "the model endpoint answered HTTP 500"}


def test_an_answer_without_a_diff_is_no_diff_and_a_huge_one_diff_too_large(model_setup: Setup) -> None:
    run = _fix(model_setup, "fm-nodiff", "1. Nothing in these files causes it.\n2. Check the input.")
    assert run["fallback"]["label"] == "no_diff"  # type: ignore[index]
    huge = fixing_diff(model_setup.repo).replace("+    return round", "+    # " + "x" * 30000 + "\n+    return round")
    run = _fix(model_setup, "fm-huge", _answer(huge))
    assert run["fallback"]["label"] == "diff_too_large"  # type: ignore[index]


def test_no_repository_and_an_unreadable_one_are_labelled_and_the_model_is_not_asked(model_setup: Setup) -> None:
    run = _fix(model_setup, "fm-norepo", "unused", project_index=2)
    assert run["fallback"]["label"] == "no_repository" and run["base_sha"] is None  # type: ignore[index]
    run = _fix(model_setup, "fm-badrepo", "unused", project_index=1)
    assert run["fallback"]["label"] == "repository_unavailable", run  # type: ignore[index]
    assert model_setup.script.requests == []


def test_a_model_slower_than_the_budget_is_a_timeout_within_the_budget(model_setup: Setup) -> None:
    release = threading.Event()
    model_setup.script.stall = release
    try:
        run = _fix(model_setup, "fm-slow", _answer(fixing_diff(model_setup.repo)), tight=True)
    finally:
        model_setup.script.stall = None
        release.set()
    assert run["fallback"]["label"] == "timeout", run  # type: ignore[index]
    assert model_setup.script.requests, "the model was asked (and stalled)"
    assert model_setup.last_elapsed < TIGHT_BUDGET_SECONDS + 0.5, "answered within the budget"


def test_a_busy_workspace_answers_429_with_retry_after(model_setup: Setup) -> None:
    failing_session(model_setup.client, model_setup.tenant, "fm-busy")
    incident = incident_of(model_setup.client, model_setup.tenant, "fm-busy")
    release = threading.Event()
    model_setup.script.stall = release
    model_setup.script.received.clear()
    path = f"/api/incidents/{incident['id']}/fix-agent"
    member = model_setup.tenant.user("member")
    results: list[int] = []

    def post() -> None:
        results.append(model_setup.client.post(path, headers=member).status_code)

    first, second = threading.Thread(target=post), threading.Thread(target=post)
    try:
        first.start()
        assert model_setup.script.received.wait(10)
        model_setup.script.received.clear()
        second.start()
        assert model_setup.script.received.wait(10), "two runs in flight: the limit is two"
        busy = model_setup.client.post(path, headers=member)
    finally:
        model_setup.script.stall = None
        release.set()
        first.join(30)
        second.join(30)
    assert busy.status_code == 429, busy.text
    assert busy.json()["error"]["code"] == "fix_runs_busy"
    assert 1 <= int(busy.headers["retry-after"]) <= BUDGET_SECONDS
    assert results == [201, 201]


def test_a_passing_check_command_returns_the_diff_with_the_checks_recorded(model_setup: Setup) -> None:
    run = _fix(model_setup, "fm-check-ok", _answer(fixing_diff(model_setup.repo)), project_index=3)
    assert run["status"] == "completed" and run["diff"], run
    checks = run["checks"]
    assert checks["status"] == "passed" and checks["exit_code"] == 0  # type: ignore[index]
    assert "'HOME', 'LANG', 'PATH'" in checks["output_tail"]  # type: ignore[index]


def test_a_diff_that_applies_but_fails_the_check_is_checks_failed_with_the_output_tail(model_setup: Setup) -> None:
    readme_only = "--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n calc\n+Amounts may have decimals.\n"
    run = _fix(model_setup, "fm-check-bad", _answer(readme_only), project_index=3)
    assert run["fallback"]["label"] == "checks_failed" and run["diff"] is None, run  # type: ignore[index]
    assert run["checks"]["status"] == "failed" and "ValueError" in run["checks"]["output_tail"]  # type: ignore[index]
    listed = model_setup.client.get(f"/api/incidents/{run['incident_id']}/fix-runs",
                                    headers=model_setup.tenant.key(3)).json()["fix_runs"]
    assert listed[0]["checks"] == run["checks"], "the check outcome is persisted"


def test_an_answer_with_nul_and_lone_surrogates_is_stored_not_a_500(model_setup: Setup) -> None:
    answer = _answer(fixing_diff(model_setup.repo)).replace("1. Parse the amount", "1. Parse\u0000 the \ud800amount")
    run = _fix(model_setup, "fm-nul", answer)
    assert run["status"] == "completed", run["fallback"]
    assert {"step": "change", "text": "Parse the ?amount as a decimal number."} in run["plan"]  # type: ignore[operator]


def test_a_check_command_past_its_time_limit_is_killed_and_checks_failed(model_setup: Setup) -> None:
    run = _fix(model_setup, "fm-check-hang", _answer(fixing_diff(model_setup.repo)), project_index=4)
    assert run["fallback"]["label"] == "checks_failed", run  # type: ignore[index]
    assert run["checks"]["status"] == "timeout" and run["checks"]["exit_code"] is None  # type: ignore[index]
    hung = subprocess.run(["pgrep", "-f", "print('working', flush=True); time.sleep(60)"], capture_output=True)
    assert hung.stdout == b"", "the check's process group was killed"
