"""A GitHub App installation as a read-only repository, with its credentials kept server-side.

The server signs an RS256 app JWT (iat 60 s in the past for clock drift, exp 9 minutes ahead,
under GitHub's 10-minute cap), exchanges it for an installation token scoped down to the one
repository and `contents: read`, and caches that token until five minutes before it expires.
Tokens and the key live only in memory: never in a return value, a log line, an error message or
the database. Nothing assumes a token's length or format.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from api.config import ConfigError, GitHubRepositorySettings
from api.fix.repository import Repository, RepositoryError, extract_tar, is_commit_sha

TOKEN_REFRESH_MARGIN_SECONDS = 300
MAX_TARBALL_BYTES = 256 * 1024 * 1024
_ACCEPT = "application/vnd.github+json"
_API_VERSION = "2022-11-28"


def _without_query(record: logging.LogRecord) -> bool:
    """httpx logs every request URL; download URLs GitHub redirects to carry a token in their query."""
    if isinstance(record.args, tuple):
        record.args = tuple(arg.copy_with(query=None) if isinstance(arg, httpx.URL) and arg.query else arg
                            for arg in record.args)
    return True


logging.getLogger("httpx").addFilter(_without_query)
# httpcore's DEBUG traces print response headers, and a redirect's Location holds that token too.
logging.getLogger("httpcore").setLevel(logging.INFO)


class _Token:
    """An installation token and its expiry; its repr shows neither."""

    __slots__ = ("value", "refresh_at")

    def __init__(self, value: str, refresh_at: float) -> None:
        self.value = value
        self.refresh_at = refresh_at

    def __repr__(self) -> str:
        return "<installation token>"


def load_app_key(private_key_pem: str) -> RSAPrivateKey:
    """The app's RSA private key; a bad key stops start-up with a message that never quotes it."""
    try:
        key = load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError("AGENTDECK_GITHUB_APP_PRIVATE_KEY_FILE does not hold an unencrypted PEM private key") \
            from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError("the GitHub App private key must be an RSA key (GitHub signs apps with RS256)")
    return key


class GitHubApp:
    def __init__(self, http: httpx.AsyncClient, api_url: str, app_id: str, key: RSAPrivateKey) -> None:
        self._http = http
        self.api_url = api_url.rstrip("/")
        self._app_id = app_id
        self._key = key
        self._tokens: dict[tuple[int, str], _Token] = {}
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"<GitHubApp {self._app_id}>"

    def app_jwt(self) -> str:
        now = int(time.time())
        return jwt.encode({"iat": now - 60, "exp": now + 540, "iss": self._app_id}, self._key, algorithm="RS256")

    async def token(self, installation_id: int, repo: str) -> str:
        key = (installation_id, repo)
        cached = self._tokens.get(key)
        if cached is not None and time.monotonic() < cached.refresh_at:
            return cached.value
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._tokens.get(key)
            if cached is not None and time.monotonic() < cached.refresh_at:
                return cached.value
            minted = await self._mint(installation_id, repo)
            self._tokens[key] = minted
            return minted.value

    def forget(self, installation_id: int, repo: str) -> None:
        self._tokens.pop((installation_id, repo), None)

    async def _mint(self, installation_id: int, repo: str) -> _Token:
        try:
            response = await self._http.post(
                f"{self.api_url}/app/installations/{installation_id}/access_tokens",
                json={"repositories": [repo], "permissions": {"contents": "read"}},
                headers={"Authorization": f"Bearer {self.app_jwt()}", "Accept": _ACCEPT,
                         "X-GitHub-Api-Version": _API_VERSION},
            )
        except httpx.HTTPError as exc:
            raise RepositoryError(f"GitHub could not be reached ({type(exc).__name__})") from None
        if response.status_code != 201:
            raise RepositoryError(f"GitHub refused an installation token for installation {installation_id} "
                                  f"(HTTP {response.status_code})")
        try:
            body = response.json()
            value, expires_at = body["token"], datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise RepositoryError("GitHub's installation token answer is malformed") from None
        if not isinstance(value, str) or not value:
            raise RepositoryError("GitHub's installation token answer is malformed")
        lifetime = expires_at.timestamp() - time.time()
        return _Token(value, time.monotonic() + lifetime - TOKEN_REFRESH_MARGIN_SECONDS)


class GitHubRepository(Repository):
    """One repository of an installation, read through the REST API at pinned commits."""

    def __init__(self, app: GitHubApp, http: httpx.AsyncClient, settings: GitHubRepositorySettings) -> None:
        self._app = app
        self._http = http
        self._settings = settings
        self._base = f"{app.api_url}/repos/{quote(settings.owner)}/{quote(settings.repo)}"

    async def _get(self, path: str, params: dict[str, str] | None = None, *,
                   missing_ok: bool = False) -> httpx.Response | None:
        s = self._settings
        token = await self._app.token(s.installation_id, s.repo)
        try:
            response = await self._http.get(f"{self._base}/{path}", params=params,
                                            headers={"Authorization": f"Bearer {token}", "Accept": _ACCEPT,
                                                     "X-GitHub-Api-Version": _API_VERSION})
        except httpx.HTTPError as exc:
            raise RepositoryError(f"GitHub could not be reached ({type(exc).__name__})") from None
        if response.status_code == 401:
            self._app.forget(s.installation_id, s.repo)  # revoked early: mint a fresh one next time
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code != 200:
            raise RepositoryError(f"GitHub answered HTTP {response.status_code} for {path.split('/')[0]} of "
                                  f"{s.owner}/{s.repo}")
        return response

    async def _json(self, path: str, params: dict[str, str] | None = None) -> Any:
        response = await self._get(path, params)
        assert response is not None
        try:
            return response.json()
        except ValueError:
            raise RepositoryError(f"GitHub's answer for {path.split('/')[0]} is not JSON") from None

    async def resolve(self, ref: str) -> str:
        commit = await self._json(f"commits/{quote(ref, safe='')}")
        sha = commit.get("sha") if isinstance(commit, dict) else None
        if not isinstance(sha, str) or not is_commit_sha(sha):
            raise RepositoryError(f"GitHub named no commit for {ref}")
        return sha

    async def list_files(self, sha: str) -> list[str]:
        tree = await self._json(f"git/trees/{sha}", {"recursive": "1"})
        entries = tree.get("tree") if isinstance(tree, dict) else None
        if not isinstance(entries, list):
            raise RepositoryError("GitHub's tree answer is malformed")
        return [e["path"] for e in entries if isinstance(e, dict) and e.get("type") == "blob"
                and isinstance(e.get("path"), str)]

    async def read_file(self, sha: str, path: str, max_bytes: int) -> bytes | None:
        response = await self._get(f"contents/{quote(path)}", {"ref": sha}, missing_ok=True)
        if response is None:
            return None
        try:
            body = response.json()
        except ValueError:
            raise RepositoryError(f"GitHub's contents answer for {path} is not JSON") from None
        if not isinstance(body, dict) or body.get("type") != "file" or not isinstance(body.get("size"), int):
            return None
        if body["size"] > max_bytes or body.get("encoding") != "base64":
            return None  # over the cap (GitHub leaves content empty past 1 MB anyway)
        try:
            return base64.b64decode(body.get("content") or "")
        except ValueError:
            raise RepositoryError(f"GitHub's contents answer for {path} is not base64") from None

    async def export(self, sha: str, dest: Path) -> None:
        s = self._settings
        token = await self._app.token(s.installation_id, s.repo)
        archive = bytearray()
        try:
            # GitHub redirects to a download host; httpx drops the Authorization header on the way.
            async with self._http.stream("GET", f"{self._base}/tarball/{sha}", follow_redirects=True, headers={
                    "Authorization": f"Bearer {token}", "Accept": _ACCEPT, "X-GitHub-Api-Version": _API_VERSION,
            }) as response:
                if response.status_code != 200:
                    raise RepositoryError(f"GitHub answered HTTP {response.status_code} for the tarball of "
                                          f"{s.owner}/{s.repo}")
                async for chunk in response.aiter_bytes():
                    archive += chunk
                    if len(archive) > MAX_TARBALL_BYTES:
                        raise RepositoryError(f"the tarball of {sha} exceeds {MAX_TARBALL_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise RepositoryError(f"GitHub could not be reached ({type(exc).__name__})") from None
        # GitHub's tarballs hold one top-level directory, owner-repo-sha/.
        extract_tar(bytes(archive), dest, strip_components=1)
