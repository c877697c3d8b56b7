"""Regression-run tests: agent runs that fail the incident's way, fail another way or succeed,
and waiting (with a deadline, polling the public API) for the worker to settle a run."""

from __future__ import annotations

import time
from typing import Any, Literal

import httpx

Outcome = Literal["not_found", "auth_error", "clean"]


def agent_run(client: httpx.Client, headers: dict[str, str], trace_id: str, outcome: Outcome, *,
              end: bool = True, **metadata: str) -> None:
    """A session that fetches a page: a 404 (the incident), a 401 (another failure) or a success."""
    created = client.post("/api/traces", json={"id": trace_id, "metadata": metadata}, headers=headers)
    assert created.status_code == 201, created.text
    result: dict[str, Any] = {"tool": "fetch_page", "status": "ok", "result": {"text": "the page"}}
    if outcome == "not_found":
        # A different page each time: normalisation gives every run one fingerprint.
        result = {"tool": "fetch_page", "status": "error",
                  "error": {"type": "HTTPError", "code": 404, "message": f"404 Not Found: /docs/{len(trace_id)}"}}
    elif outcome == "auth_error":
        result = {"tool": "fetch_page", "status": "error",
                  "error": {"type": "AuthError", "code": 401, "message": "401 Unauthorized: token expired"}}
    events: list[dict[str, Any]] = [
        {"seq": 1, "type": "session.start", "payload": {"tools": ["fetch_page"]}},
        {"seq": 2, "type": "tool.call", "payload": {"tool": "fetch_page", "arguments": {"url": "/docs/1"}}},
        {"seq": 3, "type": "tool.result", "payload": result},
    ]
    if end:
        events.append({"seq": 4, "type": "session.end",
                       "payload": {"outcome": "success" if outcome == "clean" else "failure"}})
    appended = client.post(f"/api/traces/{trace_id}/events", json={"events": events}, headers=headers)
    assert appended.json()["accepted"] == len(events), appended.text


def wait_until(condition: Any, what: str, within: float = 20.0) -> Any:
    """Poll `condition()` until it returns something truthy; fail naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


def incident_of(client: httpx.Client, headers: dict[str, str], sessions: int) -> dict[str, Any]:
    """The project's not_found incident once the worker has analysed `sessions` failing runs."""

    def ready() -> dict[str, Any] | None:
        incidents = client.get("/api/incidents", params={"label": "not_found"}, headers=headers).json()["incidents"]
        return incidents[0] if incidents and incidents[0]["session_count"] == sessions else None

    found: dict[str, Any] = wait_until(ready, f"an incident of {sessions} sessions")
    return found


def settled(client: httpx.Client, headers: dict[str, str], run_id: str) -> dict[str, Any]:
    """The run once the worker has passed or failed it."""

    def done() -> dict[str, Any] | None:
        run: dict[str, Any] = client.get(f"/api/regression-runs/{run_id}", headers=headers).json()
        return run if run["status"] != "pending" else None

    found: dict[str, Any] = wait_until(done, f"regression run {run_id} to settle")
    return found


def failing_incident(client: httpx.Client, headers: dict[str, str], prefix: str, tasks: int) -> dict[str, Any]:
    """An incident from `tasks` failing runs with task keys {prefix}-t1, …"""
    for n in range(1, tasks + 1):
        agent_run(client, headers, f"{prefix}-before-{n}", "not_found", task_key=f"{prefix}-t{n}")
    return incident_of(client, headers, tasks)


def verdicts(run: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(p["task"], p["after_session_id"], p["verdict"]) for p in run["pairs"]]
