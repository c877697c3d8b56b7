"""Read-only repository access at a pinned commit: the interface and the local git checkout."""

from __future__ import annotations

import io
import re
import tarfile
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

from api.fix.process import ProcessTimeout, run_process, scrubbed_env

_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
GIT_TIMEOUT_SECONDS = 30.0


class RepositoryError(Exception):
    """The repository could not be read; the message is safe to show (it never holds a credential)."""


def is_commit_sha(value: str) -> bool:
    return bool(_SHA.match(value))


class Repository(ABC):
    """What the fix agent reads of a repository: everything at one pinned commit."""

    @abstractmethod
    async def resolve(self, ref: str) -> str:
        """The commit SHA `ref` names now: the base every later read and the diff are pinned to."""

    @abstractmethod
    async def list_files(self, sha: str) -> list[str]:
        """Every file path of the tree at `sha`."""

    @abstractmethod
    async def read_file(self, sha: str, path: str, max_bytes: int) -> bytes | None:
        """The file at `sha`, or None when it is absent or larger than `max_bytes`."""

    @abstractmethod
    async def export(self, sha: str, dest: Path) -> None:
        """Write the whole tree at `sha` into the empty directory `dest` (for the check command)."""


def extract_tar(data: bytes, dest: Path, strip_components: int = 0) -> None:
    """Untar into `dest`, refusing links out of it and special files (tarfile's `data` filter)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        members = []
        for member in archive.getmembers():
            parts = Path(member.name).parts[strip_components:]
            if not parts or member.name.startswith("pax_global_header"):
                continue
            member.name = str(Path(*parts))
            members.append(member)
        archive.extractall(dest, members=members, filter="data")


class LocalRepository(Repository):
    """A git checkout on the server's disk, read with git at a commit (never its working tree)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def _git(self, *args: str, stdin: bytes | None = None) -> bytes:
        with tempfile.TemporaryDirectory(prefix="agentdeck-git-") as home:
            try:
                result = await run_process(["git", "-C", str(self.path), *args], cwd=Path(home),
                                           env=scrubbed_env(Path(home)), time_limit=GIT_TIMEOUT_SECONDS, stdin=stdin,
                                           max_output=512 * 1024 * 1024)
            except (ProcessTimeout, OSError) as exc:
                raise RepositoryError(f"git {args[0]} failed: {exc}") from None
        if result.returncode != 0:
            detail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise RepositoryError(f"git {args[0]} failed: {detail[0][:300]}")
        return result.stdout

    async def resolve(self, ref: str) -> str:
        sha = (await self._git("rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}")).decode().strip()
        if not is_commit_sha(sha):
            raise RepositoryError(f"{ref} does not name a commit")
        return sha

    async def list_files(self, sha: str) -> list[str]:
        listing = await self._git("ls-tree", "-r", "-z", "--name-only", sha)
        return [p.decode(errors="replace") for p in listing.split(b"\0") if p]

    async def read_file(self, sha: str, path: str, max_bytes: int) -> bytes | None:
        spec = f"{sha}:{path}"
        batch = await self._git("cat-file", "--batch-check=%(objecttype) %(objectsize)", stdin=spec.encode() + b"\n")
        kind, _, size = batch.decode().strip().partition(" ")
        if kind != "blob" or not size.isdigit() or int(size) > max_bytes:
            return None
        return await self._git("cat-file", "blob", spec)

    async def export(self, sha: str, dest: Path) -> None:
        extract_tar(await self._git("archive", "--format=tar", sha), dest)
