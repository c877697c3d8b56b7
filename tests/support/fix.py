"""Fix-agent tests: an incident from a real failing run, a real git repository holding the bug, and
a local server speaking the chat-completions protocol."""

from __future__ import annotations

import json
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.tenants import Tenant

BUGGY_SOURCE = '''"""Amounts typed by users."""


def parse_amount(text):
    """The amount in cents."""
    return int(text) * 100
'''
FIXED_SOURCE = BUGGY_SOURCE.replace("    return int(text) * 100\n",
                                    "    return round(float(text) * 100)\n")
TRACEBACK = ('Traceback (most recent call last):\n'
             '  File "/srv/agent/run.py", line 12, in <module>\n'
             '  File "/srv/agent/calc/parse.py", line 6, in parse_amount\n'
             "ValueError: invalid literal for int() with base 10: '12.50'")


def failing_session(client: httpx.Client, tenant: Tenant, trace_id: str, project_index: int = 0) -> None:
    """A run whose code calls calc/parse.py's parse_amount and crashes; analysed by the real detectors."""
    headers = tenant.key(project_index)
    assert client.post("/api/traces", json={"id": trace_id}, headers=headers).status_code == 201
    events = [
        {"seq": 1, "type": "session.start", "payload": {"files": ["calc/parse.py"]}},
        {"seq": 2, "type": "llm.response", "payload": {"model": "m", "usage": {"input_tokens": 3},
                                                       "content": "I will parse the amount."}},
        {"seq": 3, "type": "tool.call", "payload": {"tool": "python", "arguments": {
            "code": "from calc.parse import parse_amount; parse_amount('12.50')",
            "api_key": "sk-live-should-never-leave-the-server"}}},
        {"seq": 4, "type": "tool.result", "payload": {"tool": "python", "status": "ok", "exit_code": 1,
                                                      "output": TRACEBACK}},
    ]
    accepted = client.post(f"/api/traces/{trace_id}/events", json={"events": events}, headers=headers)
    assert accepted.json()["accepted"] == len(events), accepted.text
    assert client.post(f"/api/traces/{trace_id}/analyze", headers=headers).status_code == 200


def incident_of(client: httpx.Client, tenant: Tenant, trace_id: str) -> dict[str, Any]:
    """The incident the session was clustered into."""
    for incident in client.get("/api/incidents", headers=tenant.user("member")).json()["incidents"]:
        if trace_id in incident["sample_session_ids"]:
            return incident
    raise AssertionError(f"{trace_id} opened no incident")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def buggy_repository(path: Path) -> str:
    """A git repository whose calc/parse.py has the bug; returns the commit's SHA."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "calc").mkdir()
    (path / "calc" / "parse.py").write_text(BUGGY_SOURCE)
    (path / "calc" / "__init__.py").write_text("")
    (path / "README.md").write_text("calc\n")
    (path / "test_parse.py").write_text("from calc.parse import parse_amount\n\n\n"
                                        "def test_decimal():\n    assert parse_amount('12.50') == 1250\n")
    git(path, "add", ".")
    git(path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "calc")
    return git(path, "rev-parse", "HEAD").strip()


def fixing_diff(repo: Path) -> str:
    """The real diff of the fix, as `git diff` writes it (the change is undone afterwards)."""
    (repo / "calc" / "parse.py").write_text(FIXED_SOURCE)
    try:
        return git(repo, "diff")
    finally:
        git(repo, "checkout", "--", ".")


@dataclass
class ChatScript:
    """What the fake model does next, and what it was asked."""

    status: int = 200
    content: str = ""
    stall: threading.Event | None = None  # wait for this (released by the test) before answering
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)


def chat_completions_app(script: ChatScript) -> Starlette:
    async def completions(request: Request) -> Response:
        script.requests.append(json.loads(await request.body()))
        script.authorizations.append(request.headers.get("authorization"))
        script.received.set()
        if script.stall is not None:
            await anyio.to_thread.run_sync(script.stall.wait, 30)
        if script.status != 200:
            return JSONResponse({"error": {"message": "upstream exploded", "type": "server_error"}},
                                status_code=script.status)
        # json.dumps escapes what a model may emit (lone surrogates) instead of failing to encode it.
        return Response(json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "model": script.requests[-1]["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": script.content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }), media_type="application/json")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


def repositories_file(path: Path, repositories: dict[str, Any]) -> str:
    path.write_text(json.dumps(repositories))
    return str(path)
