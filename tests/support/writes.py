"""Writing sessions and events over HTTP from async tests."""

from __future__ import annotations

from typing import Any

import httpx


def log_events(first_seq: int, count: int, message: str = "step") -> dict[str, Any]:
    """A batch of `count` log events with consecutive seqs."""
    return {"events": [{"seq": s, "type": "log", "payload": {"level": "info", "message": f"{message} {s}"}}
                       for s in range(first_seq, first_seq + count)]}


async def start_trace(http: httpx.AsyncClient, headers: dict[str, str], trace_id: str, **body: Any) -> None:
    response = await http.post("/api/traces", json={"id": trace_id, **body}, headers=headers)
    assert response.status_code == 201, response.text


async def append(http: httpx.AsyncClient, headers: dict[str, str], trace_id: str, body: dict[str, Any],
                 **params: str) -> dict[str, Any]:
    response = await http.post(f"/api/traces/{trace_id}/events", json=body, headers=headers, params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
