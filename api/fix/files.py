"""Which repository files the model sees: chosen from the evidence, bounded in count (and, by the
caller, in bytes). The rule, in order (docs/fix-agent.md):

1. files named in stack traces and error messages of the critical events, innermost frame first,
   matched to repository paths by their longest common suffix (the agent's paths are absolute);
2. files the agent declared in its `session.start` payload (`files`, `config_files`);
3. files whose name is a tool or function named in the evidence (`tool`, traceback `in <name>`).

Pure and deterministic: ties break by path.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from api.fix.context import FixContext, strings_of

_SOURCE_PATH = re.compile(r"(?:[\w.@~-]+/)*[\w.@~-]+\.(?:py|pyi|js|jsx|mjs|cjs|ts|tsx|go|rb|java|kt|rs|php|cs|c|cc|"
                          r"cpp|h|hpp|swift|scala|sh|sql|ya?ml|toml|json|ini|cfg)\b")
_FRAME_FUNCTION = re.compile(r"""File "[^"]+", line \d+, in ([A-Za-z_]\w*)|\bat ([A-Za-z_$][\w$.]*) \(""")


def _by_suffix(mentioned: str, repository_paths: list[str]) -> str | None:
    """The repository path sharing the longest trailing run of components with `mentioned`."""
    parts = PurePosixPath(mentioned.replace("\\", "/")).parts
    best, best_len = None, 0
    for path in repository_paths:
        candidate = PurePosixPath(path).parts
        n = 0
        while n < min(len(parts), len(candidate)) and parts[-1 - n] == candidate[-1 - n]:
            n += 1
        if n > best_len or (n == best_len and n > 0 and best is not None and path < best):
            best, best_len = path, n
    return best


def choose_files(context: FixContext, repository_paths: list[str], max_files: int) -> list[str]:
    paths = sorted(repository_paths)
    chosen: list[str] = []

    def add(path: str | None) -> None:
        if path is not None and path not in chosen and len(chosen) < max_files:
            chosen.append(path)

    names: list[str] = []
    declared: list[str] = []
    for session in context.sessions:
        traced: list[str] = []
        for event in session.events:
            raw = event.get("payload")
            payload: dict[str, Any] = raw if isinstance(raw, dict) else {}
            if event.get("type") == "session.start":
                for key in ("files", "config_files"):
                    listed = payload.get(key)
                    declared += [p for p in listed if isinstance(p, str)] if isinstance(listed, list) else []
                continue
            for text in strings_of(payload):
                traced += _SOURCE_PATH.findall(text)
                names += [a or b for a, b in _FRAME_FUNCTION.findall(text)]
            if isinstance(payload.get("tool"), str):
                names.append(payload["tool"])
        for mentioned in reversed(traced):  # a traceback ends with the innermost frame
            add(_by_suffix(mentioned, paths))
    for mentioned in declared:
        add(mentioned if mentioned in paths else _by_suffix(mentioned, paths))
    tool = context.incident.get("tool")
    for name in ([tool] if isinstance(tool, str) else []) + names:
        stem = name.rsplit(".", 1)[-1].lower().replace("-", "_")
        for path in paths:
            if stem and PurePosixPath(path).stem.lower() == stem:
                add(path)
    return chosen
