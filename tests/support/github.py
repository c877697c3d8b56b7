"""A local server speaking the GitHub REST endpoints the fix agent uses, backed by a real git repository.

It checks what GitHub checks: the app JWT's RS256 signature against the app's public key, its
issuer and lifetime; that the installation token request names only repositories of the
installation with `contents: read`; and the installation token on every repository read. It also
records that every read was pinned to a full commit SHA.
"""

from __future__ import annotations

import base64
import re
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

_SHA = re.compile(r"^[0-9a-f]{40}$")


def rsa_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh 2048-bit RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@dataclass
class FakeGitHub:
    app_id: str
    public_key: str
    installation_id: int
    owner: str
    repos: dict[str, Path]  # repositories of the installation, by name
    tokens: dict[str, str] = field(default_factory=dict)  # issued token -> repository
    app_jwts: list[str] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    reads: list[tuple[str, str | None]] = field(default_factory=list)  # (endpoint, ref or sha read at)
    refusals: list[str] = field(default_factory=list)
    download_tokens: list[str] = field(default_factory=list)

    def _git(self, repo: str, *args: str) -> bytes:
        return subprocess.run(["git", "-C", str(self.repos[repo]), *args], check=True, capture_output=True).stdout

    def _refuse(self, status: int, message: str) -> Response:
        self.refusals.append(message)
        return JSONResponse({"message": message}, status_code=status)

    async def access_tokens(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"],
                                options={"require": ["iat", "exp", "iss"]}, leeway=0)
        except jwt.PyJWTError as exc:
            return self._refuse(401, f"A JSON web token could not be decoded: {exc}")
        now = time.time()
        if scheme != "Bearer" or claims["iss"] != self.app_id:
            return self._refuse(401, "wrong issuer")
        if not (claims["iat"] <= now and claims["exp"] - claims["iat"] <= 660 and claims["exp"] > now):
            return self._refuse(401, "'Expiration time' claim ('exp') is too far in the future")
        if int(request.path_params["installation_id"]) != self.installation_id:
            return self._refuse(404, "Not Found")
        self.app_jwts.append(token)
        body = await request.json()
        self.token_requests.append(body)
        if body.get("permissions") != {"contents": "read"}:
            return self._refuse(422, "the token must ask for contents: read only")
        wanted = body.get("repositories")
        if not isinstance(wanted, list) or len(wanted) != 1 or wanted[0] not in self.repos:
            return self._refuse(422, "There is at least one repository that does not exist or is not accessible")
        # Deliberately not GitHub's current shape or length: the client must not assume one.
        issued = f"v2.{secrets.token_urlsafe(57)}~{secrets.token_hex(3)}"
        self.tokens[issued] = wanted[0]
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return JSONResponse({"token": issued, "expires_at": expires, "permissions": {"contents": "read"},
                             "repository_selection": "selected"}, status_code=201)

    def _repo(self, request: Request) -> str | Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        repo = request.path_params["repo"]
        if scheme not in ("Bearer", "token") or token not in self.tokens:
            return self._refuse(401, "Bad credentials")
        if request.path_params["owner"] != self.owner or self.tokens[token] != repo:
            return self._refuse(404, "Not Found")
        return repo

    async def commit(self, request: Request) -> Response:
        repo = self._repo(request)
        if isinstance(repo, Response):
            return repo
        ref = request.path_params["ref"]
        self.reads.append(("commits", ref))
        sha = self._git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()
        return JSONResponse({"sha": sha, "commit": {"message": "calc"}})

    async def tree(self, request: Request) -> Response:
        repo = self._repo(request)
        if isinstance(repo, Response):
            return repo
        sha = request.path_params["sha"]
        self.reads.append(("trees", sha))
        if not _SHA.match(sha) or request.query_params.get("recursive") != "1":
            return self._refuse(422, "trees are read at a full SHA, recursively")
        paths = self._git(repo, "ls-tree", "-r", "--name-only", "-z", sha).split(b"\0")
        return JSONResponse({"sha": sha, "truncated": False, "tree": [
            {"path": p.decode(), "type": "blob", "mode": "100644"} for p in paths if p]})

    async def contents(self, request: Request) -> Response:
        repo = self._repo(request)
        if isinstance(repo, Response):
            return repo
        ref = request.query_params.get("ref")
        path = request.path_params["path"]
        self.reads.append(("contents", ref))
        if ref is None or not _SHA.match(ref):
            return self._refuse(422, "contents are read at a pinned SHA")
        try:
            data = self._git(repo, "show", f"{ref}:{path}")
        except subprocess.CalledProcessError:
            return self._refuse(404, "Not Found")
        return JSONResponse({"type": "file", "path": path, "size": len(data), "encoding": "base64",
                             "content": base64.encodebytes(data).decode()})

    async def tarball(self, request: Request) -> Response:
        repo = self._repo(request)
        if isinstance(repo, Response):
            return repo
        sha = request.path_params["sha"]
        self.reads.append(("tarball", sha))
        if not _SHA.match(sha):
            return self._refuse(422, "tarballs are read at a pinned SHA")
        # As GitHub does: a redirect to another endpoint carrying a short-lived token in its query.
        download = secrets.token_urlsafe(24)
        self.download_tokens.append(download)
        return RedirectResponse(f"/_codeload/{repo}/{sha}?token={download}", status_code=302)

    async def codeload(self, request: Request) -> Response:
        repo, sha = request.path_params["repo"], request.path_params["sha"]
        if request.query_params.get("token") not in self.download_tokens:
            return self._refuse(404, "Not Found")
        archive = self._git(repo, "archive", "--format=tar.gz", f"--prefix={self.owner}-{repo}-{sha[:7]}/", sha)
        return Response(archive, media_type="application/x-gzip")

    def app(self) -> Starlette:
        base = "/repos/{owner}/{repo}"
        return Starlette(routes=[
            Route("/app/installations/{installation_id}/access_tokens", self.access_tokens, methods=["POST"]),
            Route(base + "/commits/{ref}", self.commit),
            Route(base + "/git/trees/{sha}", self.tree),
            Route(base + "/contents/{path:path}", self.contents),
            Route(base + "/tarball/{sha}", self.tarball),
            Route("/_codeload/{repo}/{sha}", self.codeload),
        ])
