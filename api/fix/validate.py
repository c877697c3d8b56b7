"""A diff is valid only if `git apply --check` accepts it against a clean tree at the pinned commit.

The tree is rebuilt from the repository at `base_sha` in a fresh temporary directory (only the
files the diff touches, which is all `git apply --check` reads), so nothing local can make a bad
diff pass. Paths that leave the tree or touch `.git` are refused before git sees them.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path, PurePosixPath

from api.fix.process import ProcessTimeout, run_process, scrubbed_env
from api.fix.repository import Repository

_HEADER = re.compile(r"^(?:---|\+\+\+) (?:[ab]/)?(?P<path>[^\t\n]+)", re.MULTILINE)
_GIT_HEADER = re.compile(r"^diff --git a/(?P<old>\S+) b/(?P<new>\S+)$", re.MULTILINE)
_RENAME = re.compile(r"^(?:rename|copy) (?:from|to) (?P<path>.+)$", re.MULTILINE)
MAX_VALIDATED_FILE_BYTES = 8 * 1024 * 1024


class InvalidDiff(Exception):
    """The diff does not apply (or is unsafe); the message says why, for the fallback reason."""


def touched_paths(diff: str) -> list[str]:
    """Every path the diff reads or writes, in order of appearance, without duplicates."""
    paths = [m.group("path").strip() for m in _HEADER.finditer(diff)]
    for m in _GIT_HEADER.finditer(diff):
        paths += [m.group("old"), m.group("new")]
    paths += [m.group("path").strip() for m in _RENAME.finditer(diff)]
    return list(dict.fromkeys(p for p in paths if p != "/dev/null"))


def unsafe_path(path: str) -> bool:
    pure = PurePosixPath(path)
    return (pure.is_absolute() or "\\" in path or "\0" in path
            or any(part in ("..", ".git") for part in pure.parts) or not pure.parts)


async def apply(diff: str, tree: Path, *, check_only: bool, time_limit: float = 30.0) -> None:
    """`git apply [--check]` of `diff` in `tree` (a git work tree of its own); raises InvalidDiff."""
    argv = ["git", "apply", "--check", "-"] if check_only else ["git", "apply", "-"]
    with tempfile.TemporaryDirectory(prefix="agentdeck-home-") as home:
        try:
            result = await run_process(argv, cwd=tree, env=scrubbed_env(Path(home)), time_limit=time_limit,
                                       stdin=diff.encode())
        except ProcessTimeout as exc:
            raise InvalidDiff(str(exc)) from None
    if result.returncode != 0:
        message = " ".join(result.stderr.decode(errors="replace").split())
        raise InvalidDiff(f"git apply --check refused the diff: {message[:500]}")


async def init_tree(tree: Path) -> None:
    """Make `tree` a repository of its own, so git apply resolves paths from its root."""
    with tempfile.TemporaryDirectory(prefix="agentdeck-home-") as home:
        await run_process(["git", "init", "-q", "."], cwd=tree, env=scrubbed_env(Path(home)), time_limit=30.0)


async def check_applies(repository: Repository, base_sha: str, diff: str, tree_paths: set[str]) -> None:
    """Raises InvalidDiff unless `diff` applies cleanly to the tree at `base_sha` (whose files are `tree_paths`)."""
    paths = touched_paths(diff)
    if not paths:
        raise InvalidDiff("the diff names no file")
    unsafe = [p for p in paths if unsafe_path(p)]
    if unsafe:
        raise InvalidDiff(f"the diff touches paths outside the repository: {', '.join(unsafe)[:300]}")
    with tempfile.TemporaryDirectory(prefix="agentdeck-apply-") as scratch:
        tree = Path(scratch)
        await init_tree(tree)
        for path in paths:
            if path not in tree_paths:
                continue  # created by the diff, or absent: git apply decides
            content = await repository.read_file(base_sha, path, MAX_VALIDATED_FILE_BYTES)
            if content is None:
                raise InvalidDiff(f"{path} is too large to validate")
            target = tree / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        await apply(diff, tree, check_only=True)
