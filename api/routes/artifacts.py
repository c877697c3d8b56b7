"""Artifacts: POST /api/traces/{id}/artifacts (upload or register), GET /artifacts/{id} (302 to a
short-lived signed URL) and, for the local backend, the signed download itself.

An upload runs in two short transactions around the transfer, never one held open while bytes
stream: the session is resolved and checked writable first (so nothing is read for a caller who may
not write), the bytes go to storage through the checks, then the record is written. If recording
fails, the object this request wrote is removed again.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from anyio import CancelScope  # eager, not anyio.x on first use: see api/storage/local.py
from anyio import Path as AsyncPath
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from api.auth import Identity
from api.config import ArtifactSettings
from api.context import authorize, json_text, parse_query, validation_details
from api.errors import ApiError
from api.models import ArtifactCreated, ArtifactParams
from api.openapi import Operation
from api.routes.traces import trace_id_of
from api.storage import paths
from api.storage.backend import ArtifactStorage, Grant, ObjectMissing
from api.storage.intake import Intake, read_checked, too_large, write_checked
from api.storage.local import CONTENT_PATH, LocalStorage
from api.storage.media import disposition_of, essence
from api.storage.multipart import MultipartReader, Part, boundary_of, read_field

log = logging.getLogger("agentdeck.artifacts")
_ARTIFACT_ID = re.compile(r"^art_[A-Za-z0-9]{1,64}$")
_FORM_FIELDS = ("kind", "seq", "sha256", "size_bytes")
_FIELD_BYTES = 256


@dataclass(frozen=True)
class Destination:
    """Where a new artifact goes: its session, and the id it will have."""

    workspace_id: str
    project_id: str
    trace_id: str
    artifact_id: str


@dataclass(frozen=True)
class Stored:
    """An object in storage, checked, not yet recorded."""

    params: ArtifactParams
    content_type: str
    storage_path: str
    size_bytes: int
    sha256: str
    written_here: bool  # uploaded by this request (removed if recording fails), not registered


async def create_artifact(request: Request) -> Response:
    identity = await authorize(request)
    trace_id = trace_id_of(request)
    params = parse_query(ArtifactParams, request)
    _check_mode(request, params)
    state = request.app.state
    session = json.loads(await state.db.call(
        identity, "select api.artifact_session($1, $2)", trace_id, params.project_id, readonly=False,
    ))
    destination = Destination(session["workspace_id"], session["project_id"], session["trace_id"],
                              "art_" + secrets.token_hex(16))
    if params.storage_path is not None:
        stored = await _register(state.storage, state.settings.artifacts, params, destination)
    elif essence(request.headers.get("content-type")) == "multipart/form-data":
        stored = await _upload_form(request, params, destination)
    else:
        stored = await _upload_body(request, params, destination)
    try:
        created = await _record(request, identity, destination, stored)
    except BaseException:
        if stored.written_here:
            await _remove_unrecorded(state.storage, stored.storage_path)
        raise
    return json_text(created, status=201)


async def _remove_unrecorded(storage: ArtifactStorage, storage_path: str) -> None:
    """Best effort: the request's own error is what the caller must see, whatever happens here."""
    try:
        with CancelScope(shield=True):
            await storage.delete(storage_path)
    except Exception:
        log.exception("could not remove the unrecorded object %s", storage_path)


async def _record(request: Request, identity: Identity, destination: Destination, stored: Stored) -> str:
    record = {
        "artifact_id": destination.artifact_id,
        "kind": stored.params.kind,
        "seq": stored.params.seq,
        "content_type": stored.content_type,
        "size_bytes": stored.size_bytes,
        "sha256": stored.sha256,
        "storage_backend": request.app.state.storage.backend,
        "storage_path": stored.storage_path,
    }
    created: str = await request.app.state.db.call(
        identity, "select api.record_artifact($1, $2, $3::jsonb)", destination.trace_id, destination.project_id,
        json.dumps(record), readonly=False,
    )
    return created


def _allowed_media_type(content_type: str | None, settings: ArtifactSettings) -> str:
    media_type = essence(content_type)
    if media_type not in settings.media_types:
        raise ApiError(415, f"media type {media_type[:100]!r} is not allowed for artifacts",
                       code="unsupported_media_type", details=[{"allowed": list(settings.media_types)}])
    return media_type


def _intake(media_type: str, params: ArtifactParams, settings: ArtifactSettings) -> Intake:
    return Intake(media_type, settings.max_bytes, expected_sha256=params.sha256, expected_size=params.size_bytes)


def _check_mode(request: Request, params: ArtifactParams) -> None:
    """A registration (storage_path) names a stored object and has no body; an upload's body says its type."""
    if params.storage_path is None and params.content_type is not None:
        raise ApiError(400, "content_type is for registering a stored object; an upload's media type is its "
                            "Content-Type", code="bad_query")
    if params.storage_path is not None and request.headers.get("content-length", "0") != "0":
        raise ApiError(400, "a registration (storage_path) has no body", code="bad_request")


async def _upload_body(request: Request, params: ArtifactParams, destination: Destination) -> Stored:
    """A raw body: its Content-Type is the media type, the query carries the rest."""
    settings: ArtifactSettings = request.app.state.settings.artifacts
    media_type = _allowed_media_type(request.headers.get("content-type"), settings)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_bytes:
        raise too_large(settings.max_bytes)
    return await _store(request.app.state.storage, request.stream(), media_type, params, destination, settings)


async def _upload_form(request: Request, params: ArtifactParams, destination: Destination) -> Stored:
    """multipart/form-data: optional fields first, then the `file` part, last (as in S3's POST uploads)."""
    settings: ArtifactSettings = request.app.state.settings.artifacts
    reader = MultipartReader(request.stream(), boundary_of(request.headers["content-type"]))
    parts = reader.parts()
    fields: dict[str, str] = {}
    async for part in parts:
        if part.name == "file":
            params = _with_fields(params, fields)
            media_type = _allowed_media_type(part.content_type, settings)
            return await _store(request.app.state.storage, _file_then_end(part, parts), media_type, params,
                                destination, settings)
        if part.name not in _FORM_FIELDS:
            raise ApiError(422, f"unknown form field {part.name[:100]!r}; expected {', '.join(_FORM_FIELDS)} and file",
                           code="validation_error")
        if part.name in fields or part.name in params.model_fields_set:
            raise ApiError(400, f"{part.name} was given more than once", code="bad_request")
        fields[part.name] = await read_field(part, _FIELD_BYTES)
    raise ApiError(422, "the form has no 'file' part", code="validation_error")


async def _file_then_end(file: Part, rest: AsyncIterator[Part]) -> AsyncIterator[bytes]:
    """The file's bytes; the form must end with it, so the object is committed only once the body is whole."""
    async for chunk in file.chunks:
        yield chunk
    async for _ in rest:
        raise ApiError(422, "the file part must be the last part of the form", code="validation_error")


def _with_fields(params: ArtifactParams, fields: dict[str, str]) -> ArtifactParams:
    try:
        return ArtifactParams.model_validate({**params.model_dump(exclude_unset=True), **fields})
    except ValidationError as exc:
        raise ApiError(422, "the form fields failed validation", details=validation_details(exc)) from None


async def _store(storage: ArtifactStorage, chunks: AsyncIterator[bytes], media_type: str, params: ArtifactParams,
                 destination: Destination, settings: ArtifactSettings) -> Stored:
    path = paths.upload_path(destination.workspace_id, destination.project_id, destination.artifact_id, media_type)
    intake = _intake(media_type, params, settings)
    digest = await write_checked(storage, path, intake, chunks)
    return Stored(params, media_type, path, intake.size, digest, written_here=True)


async def _register(storage: ArtifactStorage, settings: ArtifactSettings, params: ArtifactParams,
                    destination: Destination) -> Stored:
    """An object a trusted uploader already put in storage, inside the session's project prefix."""
    path = params.storage_path or ""
    if params.content_type is None:
        raise ApiError(400, "registering needs content_type, the stored object's media type", code="bad_query")
    media_type = _allowed_media_type(params.content_type, settings)
    if not paths.is_valid(path):
        raise ApiError(422, "storage_path must be segments of [A-Za-z0-9._-], none starting with '.'",
                       code="invalid_storage_path")
    prefix = paths.project_prefix(destination.workspace_id, destination.project_id)
    # Checked before storage is touched: whether another tenant's object exists must not leak.
    if not path.startswith(prefix):
        raise ApiError(403, f"storage_path must be inside this project's prefix {prefix}", code="path_outside_project")
    intake = _intake(media_type, params, settings)
    try:
        digest = await read_checked(storage, path, intake)
    except ObjectMissing:
        raise ApiError(422, f"no object is stored at {path}", code="object_not_found") from None
    return Stored(params, media_type, path, intake.size, digest, written_here=False)


def _artifact_id_of(request: Request) -> str:
    artifact_id: str = request.path_params["artifact_id"]
    if not _ARTIFACT_ID.match(artifact_id):
        raise ApiError(404, "artifact not found", code="artifact_not_found")
    return artifact_id


async def redirect_to_artifact(request: Request) -> Response:
    identity = await authorize(request)
    artifact_id = _artifact_id_of(request)
    found: dict[str, Any] = json.loads(await request.app.state.db.call(
        identity, "select api.get_artifact($1)", artifact_id, readonly=True,
    ))
    storage: ArtifactStorage = request.app.state.storage
    if found["storage_backend"] != storage.backend:
        raise ApiError(503, f"artifact {artifact_id} is kept in the {found['storage_backend']} backend, which this "
                            "server is not configured for", code="storage_unavailable")
    grant = Grant(artifact_id, found["storage_path"], found["content_type"])
    url = await storage.signed_url(grant, request.app.state.settings.artifacts.url_ttl_seconds)
    return Response(status_code=302, headers={"Location": url, "Cache-Control": "no-store",
                                              "Referrer-Policy": "no-referrer"})


async def serve_local_content(request: Request) -> Response:
    """The local backend's signed download: the URL is the credential, so no Authorization is needed."""
    storage = request.app.state.storage
    if not isinstance(storage, LocalStorage):
        raise ApiError(404, "no such endpoint")
    grant = storage.signer.verify(request.path_params["artifact_id"], request.query_params, time.time())
    if grant is None:
        raise ApiError(403, "this download link is invalid or has expired; GET /artifacts/{id} issues a new one",
                       code="invalid_signature")
    try:
        file = storage.file_of(grant.storage_path)
    except ObjectMissing:
        file = None
    if file is None or not await AsyncPath(file).is_file():
        raise ApiError(404, "the artifact's content is no longer stored", code="artifact_content_missing")
    return FileResponse(file, media_type=grant.content_type, headers={
        "Content-Disposition": disposition_of(grant.content_type, grant.artifact_id),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Referrer-Policy": "no-referrer",
    })


routes = [
    Route("/api/traces/{trace_id}/artifacts", create_artifact, methods=["POST"]),
    Route("/artifacts/{artifact_id}", redirect_to_artifact, methods=["GET"]),
    Route(CONTENT_PATH, serve_local_content, methods=["GET"]),
]

_UPLOAD_BODY = {
    "required": False,
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "kind": {"type": "string"}, "seq": {"type": "integer"}, "sha256": {"type": "string"},
            "size_bytes": {"type": "integer"}, "file": {"type": "string", "format": "binary"},
        }}},
        "*/*": {"schema": {"type": "string", "format": "binary"}},
    },
}

operations = [
    Operation("post", "/api/traces/{trace_id}/artifacts",
              "Upload an artifact (multipart or raw body), or register one already in storage (storage_path)",
              {201: ArtifactCreated}, query=ArtifactParams, extra={"requestBody": _UPLOAD_BODY}),
    Operation("get", "/artifacts/{artifact_id}", "302 to a short-lived signed URL of the artifact's bytes",
              {302: None}),
    Operation("get", CONTENT_PATH, "The local backend's signed download (the URL GET /artifacts/{id} issues)",
              {200: None}, secured=False),
]
