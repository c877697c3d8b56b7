"""Private artifact storage: one interface (`backend.ArtifactStorage`), two backends.

`local` (the default) keeps objects under the data dir and serves them through its own HMAC-signed,
expiring URLs; `s3` talks to any S3-compatible store, Supabase Storage included, and presigns.
"""

from __future__ import annotations

from api.config import Settings
from api.storage.backend import ArtifactStorage
from api.storage.local import LocalStorage
from api.storage.signing import UrlSigner, load_or_create_key


def open_storage(settings: Settings) -> ArtifactStorage:
    """The configured backend, ready to use."""
    artifacts = settings.artifacts
    if artifacts.s3 is not None:
        from api.storage.s3 import S3Storage  # boto3 is imported only when S3 is configured: it is slow to load

        return S3Storage(artifacts.s3)
    key = (artifacts.signing_key.encode() if artifacts.signing_key is not None
           else load_or_create_key(settings.data_dir / "artifact-signing.key"))
    return LocalStorage(settings.data_dir / "artifacts", UrlSigner(key, artifacts.url_ttl_seconds))
