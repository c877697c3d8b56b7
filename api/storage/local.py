"""The default backend: a private directory under the data dir, served through signed, expiring URLs.

Uploads are written to `.incoming/` beside the objects and linked into place only when complete,
so a reader never sees half an object and a failed upload leaves nothing at its path.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

# From anyio, not anyio.x on first use: anyio imports its parts lazily, and an import inside a
# request can race another thread's (CPython 3.11 can then fail compiling under pytest's rewriting).
from anyio import wrap_file

from api.storage import paths
from api.storage.backend import READ_CHUNK_BYTES, Grant, ObjectMissing
from api.storage.signing import UrlSigner

CONTENT_PATH = "/artifacts/{artifact_id}/content"


class LocalWriter:
    def __init__(self, handle: BinaryIO, draft: Path, target: Path) -> None:
        self._handle = handle
        self._file = wrap_file(handle)
        self._draft = draft
        self._target = target

    async def write(self, chunk: bytes) -> None:
        await self._file.write(chunk)

    async def commit(self) -> None:
        await anyio.to_thread.run_sync(self._publish)

    async def discard(self) -> None:
        await anyio.to_thread.run_sync(self._remove_draft)

    def _publish(self) -> None:
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())  # the record that follows is durable; so must the bytes be
            self._target.parent.mkdir(parents=True, exist_ok=True)
            os.link(self._draft, self._target)  # unlike rename, never replaces an existing object
        finally:
            self._remove_draft()

    def _remove_draft(self) -> None:
        self._handle.close()
        self._draft.unlink(missing_ok=True)


class LocalReader:
    def __init__(self, handle: BinaryIO, size: int) -> None:
        self.size = size
        self._file = wrap_file(handle)

    async def chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self._file.read(READ_CHUNK_BYTES):
            yield chunk

    async def close(self) -> None:
        await self._file.aclose()


class LocalStorage:
    backend = "local"

    def __init__(self, root: Path, signer: UrlSigner) -> None:
        self.root = root.resolve()
        self.signer = signer
        self._incoming = self.root / ".incoming"
        self._incoming.mkdir(parents=True, exist_ok=True)

    def file_of(self, path: str) -> Path:
        """The file of a storage path; a path that would leave the root (even through a link) names none."""
        candidate = self.root / path
        if not paths.is_valid(path) or not candidate.resolve().is_relative_to(self.root):
            raise ObjectMissing(path)
        return candidate

    async def create(self, path: str, content_type: str) -> LocalWriter:
        target = self.file_of(path)
        fd, draft = await anyio.to_thread.run_sync(lambda: tempfile.mkstemp(dir=self._incoming))
        return LocalWriter(os.fdopen(fd, "wb"), Path(draft), target)

    async def open(self, path: str) -> LocalReader:
        file = self.file_of(path)
        try:
            handle = await anyio.to_thread.run_sync(file.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectMissing(path) from None
        return LocalReader(handle, os.fstat(handle.fileno()).st_size)

    async def delete(self, path: str) -> None:
        await anyio.to_thread.run_sync(self.file_of(path).unlink, True)

    async def signed_url(self, grant: Grant, ttl_seconds: int) -> str:
        query = self.signer.query(grant, int(time.time()) + ttl_seconds)
        return f"{CONTENT_PATH.format(artifact_id=grant.artifact_id)}?{query}"

    async def close(self) -> None:
        return None
