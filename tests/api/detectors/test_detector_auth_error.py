"""auth_error: 401/403, invalid or expired credentials."""

from __future__ import annotations

from detector_events import Session


def test_401_from_a_tool_is_an_auth_error() -> None:
    s = Session()
    s.call("jira")
    failed = s.fail("jira", status=401, message="Unauthorized")
    s.end("failure")
    label = s.labels()["auth_error"]
    assert (label["critical_seq"], label["confidence"]) == (failed, 0.95)


def test_openai_invalid_api_key_code_is_strong_evidence() -> None:
    s = Session()
    s.llm(usage={}, error={"type": "invalid_request_error", "code": "invalid_api_key", "message": "Incorrect API key"})
    s.end("error")
    label = s.labels()["auth_error"]
    assert label["confidence"] == 0.95
    assert label["evidence"]["facts"]["basis"] == "code"


def test_expired_token_phrase_is_medium_evidence() -> None:
    s = Session()
    s.call("gmail")
    s.fail("gmail", message="The access token has expired; re-authenticate.")
    s.end("failure")
    assert s.labels()["auth_error"]["confidence"] == 0.8


def test_filesystem_permission_denied_is_not_an_auth_error() -> None:
    s = Session()
    s.call("bash", {"command": "cat /etc/shadow"})
    s.fail("bash", type="PermissionError", message="[Errno 13] Permission denied: '/etc/shadow'")
    s.end("failure")
    labels = s.labels()
    assert "auth_error" not in labels
    assert "tool_error" in labels


def test_refreshed_credentials_recover_the_401() -> None:
    s = Session()
    s.call("jira")
    s.fail("jira", status=401, message="Unauthorized")
    s.tool("jira", {"issue": "AD-1"}, output={"key": "AD-1"})
    s.end("failure", reason="wrong answer")
    assert "auth_error" not in s.labels()
