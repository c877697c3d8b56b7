"""Incidents in tests: detector results with chosen findings (stored the way the workflow's PUT
stores them), and reads of what Postgres holds, as the DBA sees it."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx

from tests.api.conftest import SERVICE_TOKEN
from tests.support.tenants import Tenant


def finding(label: str, tool: str | None, error_type: str | None, message: str, *, confidence: float = 0.95,
            critical_seq: int = 1, occurrences: int = 1) -> dict[str, Any]:
    return {"label": label, "confidence": confidence, "critical_seq": critical_seq,
            "evidence": {"seqs": [critical_seq], "facts": {"occurrences": occurrences}},
            "signature": {"label": label, "tool": tool, "error_type": error_type, "message": message}}


def analysis_result(*findings: dict[str, Any]) -> dict[str, Any]:
    return {"detector_version": "workflow-test", "input_digest": "0" * 64, "labels": list(findings),
            "critical_step": None}


def record_failure(client: httpx.Client, tenant: Tenant, trace_id: str, *findings: dict[str, Any],
                   project_index: int = 0) -> str:
    """A session (no session.end, so the worker leaves it alone) whose analysis the service PUTs.

    Returns the PUT's request id."""
    created = client.post("/api/traces", json={"id": trace_id}, headers=tenant.key(project_index))
    assert created.status_code in (200, 201), created.text
    stored = client.put(f"/api/traces/{trace_id}/analysis", json=analysis_result(*findings),
                        params={"project_id": tenant.projects[project_index]}, headers=tenant.service(SERVICE_TOKEN))
    assert stored.status_code == 200, stored.text
    return stored.headers["x-request-id"]


def fetch(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows read as the admin (a DBA's view, past RLS)."""

    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())
