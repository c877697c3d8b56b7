"""HMAC-signed, expiring download URLs for the local backend (S3 presigns its own).

A signature covers the artifact id, its storage path, the media type it is served with and the
expiry, so none of them can be changed, and a URL for one artifact opens no other. The URL itself
is the credential: it is never logged (the request log holds paths only) and never stored.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from hashlib import sha256
from pathlib import Path
from urllib.parse import urlencode

from api.storage import paths
from api.storage.backend import Grant

_CONTEXT = "agentdeck-artifact-url-v1"
# Tolerated clock difference between replicas when checking that an expiry is not too far ahead.
_CLOCK_SKEW_SECONDS = 30


class UrlSigner:
    def __init__(self, key: bytes, max_ttl_seconds: int) -> None:
        self._key = key
        self._max_ttl = max_ttl_seconds

    def query(self, grant: Grant, expires_at: int) -> str:
        """The query string of a URL granting `grant` until `expires_at` (unix seconds)."""
        return urlencode({
            "path": grant.storage_path,
            "type": grant.content_type,
            "expires": str(expires_at),
            "signature": self._sign(grant, str(expires_at)),
        })

    def verify(self, artifact_id: str, params: Mapping[str, str], now: float) -> Grant | None:
        """The grant of a genuine, unexpired URL, else None; every check runs whatever the others found."""
        grant = Grant(artifact_id, params.get("path", ""), params.get("type", ""))
        expires = params.get("expires", "")
        expected = self._sign(grant, expires).encode()
        signed = hmac.compare_digest(expected, params.get("signature", "").encode())
        expires_at = int(expires) if expires.isascii() and expires.isdigit() and len(expires) <= 12 else 0
        # An expiry further ahead than any URL this server issues was not issued by it.
        fresh = now <= expires_at <= now + self._max_ttl + _CLOCK_SKEW_SECONDS
        # Non-short-circuiting: the time taken does not say which check failed.
        valid = signed & fresh & paths.is_valid(grant.storage_path)
        return grant if valid else None

    def _sign(self, grant: Grant, expires: str) -> str:
        # A JSON array keeps the fields apart whatever characters a tampered query smuggles in.
        message = json.dumps([_CONTEXT, grant.artifact_id, grant.storage_path, grant.content_type, expires])
        digest = hmac.new(self._key, message.encode(), sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def load_or_create_key(path: Path) -> bytes:
    """The signing key kept at `path` (mode 0600), made on first use; replicas sharing the directory share it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)  # atomic: of two processes starting together, one key wins
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_bytes().strip()
