"""Sessions for the console tests, written through the public API as an agent would."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import httpx

from tests.support.artifacts import upload_raw
from tests.support.tenants import Tenant


def png_image(width: int = 160, height: int = 90, rgb: tuple[int, int, int] = (31, 78, 140)) -> bytes:
    """A real, decodable PNG of one colour (the browser must be able to draw it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def create(http: httpx.Client, tenant: Tenant, trace_id: str, **body: Any) -> None:
    response = http.post("/api/traces", json={"id": trace_id, **body}, headers=tenant.key())
    assert response.status_code == 201, response.text


def append(http: httpx.Client, tenant: Tenant, trace_id: str, events: list[dict[str, Any]]) -> None:
    response = http.post(f"/api/traces/{trace_id}/events", json={"events": events}, headers=tenant.key())
    assert response.status_code == 200 and response.json()["accepted"] == len(events), response.text


def agent_turns(url: str, *, fails: bool) -> list[dict[str, Any]]:
    """seq 1-5: the model is asked, decides to call fetch_page (3), calls it (4), gets its result (5)."""
    result: dict[str, Any] = (
        {"tool": "fetch_page", "status": "error", "error": {"type": "HTTPError", "code": 404, "message": f"404 Not Found: {url}"}}
        if fails else {"tool": "fetch_page", "status": "ok", "result": {"title": "Pricing", "length": 5120}}
    )
    return [
        {"seq": 1, "type": "session.start", "payload": {"tools": ["fetch_page"]}},
        {"seq": 2, "type": "llm.request", "payload": {"model": "gpt-test", "messages": [
            {"role": "system", "content": "You answer questions about the product docs."},
            {"role": "user", "content": "What does the pricing page say about seats?"}]}},
        {"seq": 3, "type": "llm.response", "payload": {
            "model": "gpt-test", "usage": {"input_tokens": 41, "output_tokens": 12},
            "content": "I will read the pricing page.",
            "tool_calls": [{"function": {"name": "fetch_page", "arguments": f'{{"url": "{url}"}}'}}]}},
        {"seq": 4, "type": "tool.call", "parent_seq": 3, "payload": {"tool": "fetch_page", "arguments": {"url": url}}},
        {"seq": 5, "type": "tool.result", "parent_seq": 4, "payload": result},
    ]


def failed_session(http: httpx.Client, tenant: Tenant, trace_id: str) -> dict[str, Any]:
    """A run whose fetch_page call 404s and is never recovered, with a screenshot; analysed."""
    create(http, tenant, trace_id, name="pricing question", agent={"name": "docs-agent", "version": "1.2"},
           environment="staging", tags=["console-test"])
    upload = upload_raw(http, trace_id, tenant.key(), png_image(), kind="screenshot", seq="6")
    assert upload.status_code == 201, upload.text
    artifact = upload.json()
    append(http, tenant, trace_id, [
        *agent_turns("/docs/pricing-v2", fails=True),
        {"seq": 6, "type": "artifact", "payload": {"artifact_id": artifact["artifact_id"],
                                                   "storage_path": artifact["storage_path"], "kind": "screenshot"}},
        {"seq": 7, "type": "log", "payload": {"level": "info", "message": "giving up on the pricing page"}},
        {"seq": 8, "type": "session.end", "payload": {"outcome": "failure", "reason": "could not read the page"}},
    ])
    analysis = http.post(f"/api/traces/{trace_id}/analyze", headers=tenant.key())
    assert analysis.status_code == 200, analysis.text
    return {"artifact_id": artifact["artifact_id"], "analysis": analysis.json()}


def succeeded_session(http: httpx.Client, tenant: Tenant, trace_id: str) -> None:
    create(http, tenant, trace_id, name="pricing question (fixed)", agent={"name": "docs-agent", "version": "1.3"})
    append(http, tenant, trace_id, [
        *agent_turns("/docs/pricing", fails=False),
        {"seq": 6, "type": "llm.response", "payload": {"model": "gpt-test", "usage": {"output_tokens": 20},
                                                       "content": "Seats are billed monthly."}},
        {"seq": 7, "type": "session.end", "payload": {"outcome": "success"}},
    ])
    assert http.post(f"/api/traces/{trace_id}/analyze", headers=tenant.key()).status_code == 200
