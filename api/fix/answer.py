"""Reading a model's answer: a plan, and a unified diff however it was wrapped.

Models put diffs in ```diff fences, in plain fences, in several fences (one per file) or bare in
prose, and often miscount hunk lengths. The diff is every diff-looking block joined in order, with
each hunk header's line counts recomputed from its body (git refuses a wrong count as corrupt).
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^(`{3,}|~{3,})[ \t]*([\w+-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")
_FILE_START = re.compile(r"^(diff --git |--- )")
_PLAN_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+(.+?)\s*$")
MAX_PLAN_STEPS = 12


def _looks_like_diff(text: str) -> bool:
    return bool(re.search(r"^--- ", text, re.MULTILINE) and re.search(r"^\+\+\+ ", text, re.MULTILINE)
                and re.search(r"^@@ ", text, re.MULTILINE))


def _bare_diff(text: str) -> str | None:
    """A diff written straight into prose: from the first file header to the last hunk line."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _FILE_START.match(line)), None)
    if start is None:
        return None
    end = start
    for i in range(start, len(lines)):
        if lines[i].startswith((" ", "+", "-", "@@", "diff --git", "index ", "new file", "deleted file",
                                "similarity", "rename ", "\\")) or lines[i] == "":
            end = i
        else:
            break
    block = "\n".join(lines[start:end + 1]).strip("\n")
    return block if _looks_like_diff(block) else None


def _recount(diff: str) -> str:
    """Rewrite each @@ header's counts from the lines that follow it."""
    lines = diff.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _HUNK.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not _HUNK.match(lines[j]) and not _FILE_START.match(lines[j]):
            body.append(lines[j])
            j += 1
        while body and body[-1] == "":
            body.pop()  # trailing blank lines are the fence's, not context
        # Inside a hunk an empty line is a blank context line whose leading space an editor trimmed.
        body = [line if line else " " for line in body]
        old = sum(1 for line in body if line[:1] in (" ", "-"))
        new = sum(1 for line in body if line[:1] in (" ", "+"))
        out.append(f"@@ -{match.group(1)},{old} +{match.group(2)},{new} @@{match.group(3)}")
        out += body
        i = j
    return "\n".join(out)


def extract_diff(text: str) -> str | None:
    blocks = [m.group(3) for m in _FENCE.finditer(text) if _looks_like_diff(m.group(3))]
    if not blocks:
        bare = _bare_diff(_FENCE.sub("", text)) or _bare_diff(text)
        blocks = [bare] if bare else []
    if not blocks:
        return None
    return "\n".join(_recount(block.strip("\n")) for block in blocks) + "\n"


def extract_plan(text: str) -> list[str]:
    """The numbered or bulleted lines outside the diff, as plan steps."""
    prose = _FENCE.sub("", text)
    bare = _bare_diff(prose)
    if bare:
        prose = prose.replace(bare, "")
    return [m.group(1) for line in prose.splitlines() if (m := _PLAN_ITEM.match(line))][:MAX_PLAN_STEPS]
