"""The one interface every artifact backend implements (local directory, S3-compatible bucket)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

READ_CHUNK_BYTES = 64 * 1024


class ObjectMissing(Exception):
    """No object at the path (a registration named nothing, or the object was removed)."""


@dataclass(frozen=True)
class Grant:
    """What a signed URL lets its holder download: one artifact's object, served with its media type."""

    artifact_id: str
    storage_path: str
    content_type: str


class ObjectWriter(Protocol):
    """A new object being written: invisible at its path until `commit`; `discard` leaves no trace."""

    async def write(self, chunk: bytes) -> None: ...

    async def commit(self) -> None: ...

    async def discard(self) -> None: ...


class ObjectReader(Protocol):
    size: int

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class ArtifactStorage(Protocol):
    backend: str  # recorded with each artifact: "local" or "s3"

    async def create(self, path: str, content_type: str) -> ObjectWriter: ...

    async def open(self, path: str) -> ObjectReader:
        """The stored object at `path`; raises ObjectMissing."""
        ...

    async def delete(self, path: str) -> None: ...

    async def signed_url(self, grant: Grant, ttl_seconds: int) -> str:
        """A URL that serves the grant's object for `ttl_seconds`, and is useless after."""
        ...

    async def close(self) -> None: ...
