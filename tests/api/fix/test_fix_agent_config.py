"""Fix-agent settings: off by default, repository references validated, bad configuration refused
with one line that never echoes key material."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.config import ConfigError, load_settings
from api.fix.agent import FixAgent
from tests.support.github import rsa_key_pair


def test_defaults_are_rules_only_with_a_60_second_budget_and_two_runs_per_workspace() -> None:
    fix = load_settings({}).fix
    assert (fix.model_configured, fix.budget_seconds, fix.concurrency_per_workspace, dict(fix.repositories)) == (
        False, 60.0, 2, {})


def test_a_repositories_file_holds_local_and_github_references_with_checks(tmp_path: Path) -> None:
    key, _ = rsa_key_pair()
    (tmp_path / "app.pem").write_text(key)
    (tmp_path / "repos.json").write_text(json.dumps({
        "proj_a": {"local": "/srv/a", "ref": "release/1.2"},
        "proj_b": {"github": {"owner": "acme", "repo": "b", "installation_id": 7},
                   "check": {"command": ["make", "test"], "timeout_seconds": 5}},
    }))
    fix = load_settings({"AGENTDECK_FIX_REPOSITORIES": str(tmp_path / "repos.json"), "AGENTDECK_GITHUB_APP_ID": "1",
                         "AGENTDECK_GITHUB_APP_PRIVATE_KEY_FILE": str(tmp_path / "app.pem")}).fix
    assert fix.repositories["proj_a"].ref == "release/1.2" and str(fix.repositories["proj_a"].local_path) == "/srv/a"
    b = fix.repositories["proj_b"]
    assert b.display_name == "github:acme/b" and b.ref == "HEAD" and b.check is not None
    assert b.check.argv == ("make", "test") and b.check.timeout_seconds == 5.0
    assert key.splitlines()[1] not in repr(fix), "the private key stays out of repr"


@pytest.mark.parametrize(("repositories", "message"), [
    ({"p": {"local": "relative/path"}}, "absolute path"),
    ({"p": {"local": "/a", "github": {"owner": "o", "repo": "r", "installation_id": 1}}}, "exactly one"),
    ({"p": {"github": {"owner": "o", "repo": "r", "installation_id": "1"}}}, "installation_id"),
    ({"p": {"local": "/a", "ref": "--upload-pack=x"}}, "ref"),
    ({"p": {"local": "/a", "check": {"command": "make test"}}}, "check"),
    ({"p": {"github": {"owner": "o", "repo": "r", "installation_id": 1}}}, "AGENTDECK_GITHUB_APP_ID"),
    ([], "object keyed by project id"),
])
def test_bad_repository_references_are_refused(tmp_path: Path, repositories: object, message: str) -> None:
    (tmp_path / "repos.json").write_text(json.dumps(repositories))
    with pytest.raises(ConfigError, match=message):
        load_settings({"AGENTDECK_FIX_REPOSITORIES": str(tmp_path / "repos.json")})


def test_half_configurations_and_unusable_keys_are_refused_without_echoing_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="set both AGENTDECK_FIX_MODEL_BASE_URL"):
        load_settings({"AGENTDECK_FIX_MODEL": "m"})
    with pytest.raises(ConfigError, match="http"):
        load_settings({"AGENTDECK_FIX_MODEL_BASE_URL": "file:///etc", "AGENTDECK_FIX_MODEL": "m"})
    with pytest.raises(ConfigError, match="set both AGENTDECK_GITHUB_APP_ID"):
        load_settings({"AGENTDECK_GITHUB_APP_ID": "1"})
    (tmp_path / "bad.pem").write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n")
    settings = load_settings({"AGENTDECK_GITHUB_APP_ID": "1",
                              "AGENTDECK_GITHUB_APP_PRIVATE_KEY_FILE": str(tmp_path / "bad.pem")})
    with pytest.raises(ConfigError) as refused:
        FixAgent(settings.fix)
    assert "c2VjcmV0" not in str(refused.value) and "PEM private key" in str(refused.value)
