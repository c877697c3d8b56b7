"""Artifact test helpers: sample files, upload calls, and snapshots of what storage and the database hold."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx

SIGNING_KEY = "test-artifact-signing-key-" + "k" * 40
PNG_HEADER = b"\x89PNG\r\n\x1a\n"
JPEG_HEADER = b"\xff\xd8\xff\xe0"


def png(size: int = 4096) -> bytes:
    """Bytes that start like a PNG (the server checks the signature, not the whole image)."""
    return PNG_HEADER + secrets.token_bytes(size - len(PNG_HEADER))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_trace(client: httpx.Client, headers: dict[str, str], **body: object) -> str:
    response = client.post("/api/traces", json=body, headers=headers)
    assert response.status_code == 201, response.text
    trace_id: str = response.json()["id"]
    return trace_id


def upload_form(client: httpx.Client, trace_id: str, headers: dict[str, str], data: bytes,
                content_type: str = "image/png", **fields: str) -> httpx.Response:
    return client.post(f"/api/traces/{trace_id}/artifacts", headers=headers, data=fields,
                       files={"file": ("shot.bin", data, content_type)})


def upload_raw(client: httpx.Client, trace_id: str, headers: dict[str, str], data: bytes,
               content_type: str = "image/png", **params: str) -> httpx.Response:
    return client.post(f"/api/traces/{trace_id}/artifacts", headers={**headers, "Content-Type": content_type},
                       params=params, content=data)


def artifact_event(seq: int, created: dict[str, object]) -> dict[str, object]:
    return {"seq": seq, "type": "artifact",
            "payload": {"artifact_id": created["artifact_id"], "storage_path": created["storage_path"]}}


def artifact_rows(database_url: str, workspace_id: str) -> list[tuple[str, str, int, str]]:
    """(artifact_id, storage_path, size, sha256 hex) of a workspace's records, read as the admin."""

    async def fetch() -> list[tuple[str, str, int, str]]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "select artifact_id, storage_path, size_bytes, encode(sha256, 'hex') as sha256"
                " from app.artifacts where workspace_id = $1 order by artifact_id", workspace_id,
            )
            return [(r["artifact_id"], r["storage_path"], r["size_bytes"], r["sha256"]) for r in rows]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def body_revoking_its_key_midway(database_url: str, key_id: str, first: bytes, rest: bytes) -> Iterator[bytes]:
    """A request body that revokes its own API key once the server has resolved the session.

    That moment is observable without guessing: resolving the session stamps the key's
    `last_used_at`, cleared here before the request starts. Recording the artifact must then fail.
    """
    asyncio.run(_admin(database_url, "update app.api_keys set last_used_at = null where key_id = $1", key_id))

    def body() -> Iterator[bytes]:
        yield first
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not asyncio.run(_admin(
            database_url, "select last_used_at is not null from app.api_keys where key_id = $1", key_id,
        )):
            time.sleep(0.01)
        asyncio.run(_admin(database_url, "update app.api_keys set revoked_at = now() where key_id = $1", key_id))
        yield rest

    return body()


async def _admin(database_url: str, sql: str, *args: object) -> object:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def files_under(root: Path) -> set[tuple[str, int]]:
    """Every file under a local artifact root (drafts included), with its size."""
    return {(str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file()}

