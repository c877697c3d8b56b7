"""S3-compatible object storage: AWS S3, Supabase Storage through its S3 endpoint, MinIO and the like.

Uploads are spooled to an unnamed temporary file while they are counted, hashed and checked, and
only then sent with one PUT: nothing reaches the bucket unless every check passed, and memory per
upload stays at one chunk whatever the object's size. Downloads are SigV4 presigned GETs.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import anyio.to_thread
import boto3
from anyio import wrap_file  # eager, not anyio.x on first use: see api/storage/local.py
from botocore.config import Config
from botocore.exceptions import ClientError

from api.config import S3Settings
from api.storage.backend import READ_CHUNK_BYTES, Grant, ObjectMissing
from api.storage.media import disposition_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


def _client(settings: S3Settings) -> S3Client:
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": settings.addressing_style},
        # Enough pooled connections for concurrent uploads; botocore's default of 10 would churn.
        max_pool_connections=32,
        retries={"mode": "standard", "max_attempts": 3},
        # Newer botocore adds CRC checksums by default, which several S3-compatible stores reject.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        config=config,
    )


class _SmallReads:
    """The spool, handed out at most one chunk per read.

    botocore reads a body in 1 MiB blocks to hash it for SigV4 over plain http; with many uploads at
    once those blocks, not the objects, would set the server's peak memory.
    """

    def __init__(self, spool: BinaryIO) -> None:
        self._spool = spool

    def read(self, size: int = -1) -> bytes:
        return self._spool.read(size if 0 <= size <= READ_CHUNK_BYTES else READ_CHUNK_BYTES)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._spool.seek(offset, whence)

    def tell(self) -> int:
        return self._spool.tell()


class S3Writer:
    def __init__(self, client: S3Client, bucket: str, key: str, content_type: str, spool: BinaryIO) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._spool = spool
        self._file = wrap_file(spool)
        self._size = 0

    async def write(self, chunk: bytes) -> None:
        await self._file.write(chunk)
        self._size += len(chunk)

    async def commit(self) -> None:
        await anyio.to_thread.run_sync(self._upload)

    async def discard(self) -> None:
        await self._file.aclose()

    def _upload(self) -> None:
        try:
            self._spool.flush()
            self._spool.seek(0)
            self._client.put_object(Bucket=self._bucket, Key=self._key, ContentType=self._content_type,
                                    Body=cast(BinaryIO, _SmallReads(self._spool)),  # read/seek/tell suffice
                                    ContentLength=self._size)
        finally:
            self._spool.close()


class S3Reader:
    def __init__(self, body: Any, size: int) -> None:
        self.size = size
        self._body = body

    async def chunks(self) -> AsyncIterator[bytes]:
        while chunk := await anyio.to_thread.run_sync(self._body.read, READ_CHUNK_BYTES):
            yield chunk

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._body.close)


class S3Storage:
    backend = "s3"

    def __init__(self, settings: S3Settings) -> None:
        self._bucket = settings.bucket
        self._prefix = settings.prefix
        self._client = _client(settings)

    async def create(self, path: str, content_type: str) -> S3Writer:
        spool = await anyio.to_thread.run_sync(tempfile.TemporaryFile)
        return S3Writer(self._client, self._bucket, self._prefix + path, content_type, spool)

    async def open(self, path: str) -> S3Reader:
        try:
            response = await anyio.to_thread.run_sync(
                lambda: self._client.get_object(Bucket=self._bucket, Key=self._prefix + path)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING_CODES:
                raise ObjectMissing(path) from None
            raise
        return S3Reader(response["Body"], response["ContentLength"])

    async def delete(self, path: str) -> None:
        await anyio.to_thread.run_sync(lambda: self._client.delete_object(Bucket=self._bucket, Key=self._prefix + path))

    async def signed_url(self, grant: Grant, ttl_seconds: int) -> str:
        params = {
            "Bucket": self._bucket,
            "Key": self._prefix + grant.storage_path,
            # The store serves the bytes with the recorded type and disposition, not whatever it guessed.
            "ResponseContentType": grant.content_type,
            "ResponseContentDisposition": disposition_of(grant.content_type, grant.artifact_id),
        }
        url: str = await anyio.to_thread.run_sync(
            lambda: self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl_seconds)
        )
        return url

    async def close(self) -> None:
        self._client.close()
