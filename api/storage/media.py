"""Media types of artifacts: normalising them, the file signatures image and video types must
start with, and how each is named and presented on download."""

from __future__ import annotations

from dataclasses import dataclass

# (offset, bytes) pairs the leading bytes must hold; a PNG must start like a PNG.
_SIGNATURES: dict[str, tuple[tuple[int, bytes], ...]] = {
    "image/png": ((0, b"\x89PNG\r\n\x1a\n"),),
    "image/jpeg": ((0, b"\xff\xd8\xff"),),
    "image/webp": ((0, b"RIFF"), (8, b"WEBP")),
    "video/webm": ((0, b"\x1a\x45\xdf\xa3"),),  # EBML header
    "video/mp4": ((4, b"ftyp"),),
}

_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "video/webm": ".webm",
    "video/mp4": ".mp4",
    "application/json": ".json",
    "application/gzip": ".gz",
    "application/zip": ".zip",
    "text/plain": ".txt",
}


def essence(content_type: str | None) -> str:
    """`Text/Plain; charset=utf-8` -> `text/plain`: what the allow-list and the record hold."""
    return (content_type or "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class Signature:
    """The leading bytes a media type's files carry, when it has a well-known one."""

    parts: tuple[tuple[int, bytes], ...]

    @property
    def length(self) -> int:
        return max(offset + len(expected) for offset, expected in self.parts)

    def matches(self, head: bytes) -> bool:
        return all(head[offset:offset + len(expected)] == expected for offset, expected in self.parts)


def signature_of(media_type: str) -> Signature | None:
    parts = _SIGNATURES.get(media_type)
    return Signature(parts) if parts is not None else None


def extension_of(media_type: str) -> str:
    return _EXTENSIONS.get(media_type, ".bin")


def disposition_of(media_type: str, artifact_id: str) -> str:
    """Content-Disposition on download: images and videos show inline, anything else downloads."""
    kind = "inline" if media_type.startswith(("image/", "video/")) else "attachment"
    return f'{kind}; filename="{artifact_id}{extension_of(media_type)}"'
