"""Storage paths: where an upload goes, and which paths a registration may name.

A path is `workspace_id/project_id/...`, segments of safe characters none of which starts with a
dot, so no path can climb out of its prefix or hide a file. The schema enforces the same rules
(`artifacts_path_format`, `artifacts_path_in_project`).
"""

from __future__ import annotations

import re

from api.storage.media import extension_of

MAX_PATH_LENGTH = 1024
_PATH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")


def is_valid(path: str) -> bool:
    return len(path) <= MAX_PATH_LENGTH and _PATH.fullmatch(path) is not None


def project_prefix(workspace_id: str, project_id: str) -> str:
    return f"{workspace_id}/{project_id}/"


def upload_path(workspace_id: str, project_id: str, artifact_id: str, media_type: str) -> str:
    return f"{project_prefix(workspace_id, project_id)}{artifact_id}{extension_of(media_type)}"
