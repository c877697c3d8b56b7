"""Bytes on their way into storage: counted against the size cap, hashed, and their leading bytes
checked against the media type's signature, chunk by chunk, so nothing is ever held whole."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from anyio import CancelScope  # eagerly: see api/storage/local.py

from api.errors import ApiError
from api.storage.backend import ArtifactStorage
from api.storage.media import signature_of


def too_large(max_bytes: int) -> ApiError:
    return ApiError(413, f"the artifact exceeds the limit of {max_bytes} bytes", code="artifact_too_large")


class Intake:
    def __init__(self, media_type: str, max_bytes: int, *, expected_sha256: str | None = None,
                 expected_size: int | None = None) -> None:
        self.media_type = media_type
        self.max_bytes = max_bytes
        self.expected_sha256 = expected_sha256
        self.expected_size = expected_size
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._signature = signature_of(media_type)
        self._head = b""

    def feed(self, chunk: bytes) -> None:
        """Account for one chunk: 413 past the cap, 415 as soon as the leading bytes disagree."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        if self._signature is not None and len(self._head) < self._signature.length:
            self._head += chunk[: self._signature.length - len(self._head)]
            if len(self._head) == self._signature.length:
                self._check_signature()
        self._sha256.update(chunk)

    def finish(self) -> str:
        """After the last chunk: the sha256 (hex); 415 if too short for the signature, 422 unlike what was declared."""
        if self._signature is not None and len(self._head) < self._signature.length:
            self._check_signature()
        digest = self._sha256.hexdigest()
        mismatched = [name for name, declared, actual in (("sha256", self.expected_sha256, digest),
                                                          ("size_bytes", self.expected_size, self.size))
                      if declared is not None and declared != actual]
        if mismatched:
            raise ApiError(422, f"the bytes do not match the declared {' and '.join(mismatched)}",
                           code="content_mismatch")
        return digest

    def _check_signature(self) -> None:
        assert self._signature is not None
        if not self._signature.matches(self._head):
            raise ApiError(415, f"the bytes do not start like {self.media_type}", code="signature_mismatch")


async def write_checked(storage: ArtifactStorage, path: str, intake: Intake, chunks: AsyncIterator[bytes]) -> str:
    """Streams `chunks` into a new object at `path` through `intake`; returns the sha256.

    The object appears only once every byte passed the checks; any failure, including the
    client going away, discards what was written.
    """
    writer = await storage.create(path, intake.media_type)
    try:
        async for chunk in chunks:
            intake.feed(chunk)
            await writer.write(chunk)
        digest = intake.finish()
    except BaseException:
        with CancelScope(shield=True):
            await writer.discard()
        raise
    await writer.commit()
    return digest


async def read_checked(storage: ArtifactStorage, path: str, intake: Intake) -> str:
    """Reads an existing object through `intake` (size cap, signature) and returns its sha256."""
    reader = await storage.open(path)
    try:
        if reader.size > intake.max_bytes:
            raise too_large(intake.max_bytes)
        async for chunk in reader.chunks():
            intake.feed(chunk)
    finally:
        await reader.close()
    return intake.finish()
