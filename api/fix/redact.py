"""Secrets out, sizes capped: what leaves the server for a model, or lands in a plan.

Values under secret-looking keys are replaced whole; credential-shaped substrings (bearer tokens,
provider keys, JWTs, PEM blocks, passwords in URLs) are replaced wherever they appear.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|authorization|^auth$|credential|cookie|private[_-]?key)", re.IGNORECASE
)
_SECRET_TEXT = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL),
    re.compile(r"(?i)\b(bearer|token|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_-]{12,}"),  # OpenAI-style keys
    re.compile(r"\b(gh[pousr]|github_pat)_[A-Za-z0-9_]{16,}"),
    re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"\badk_[A-Za-z0-9_-]{16,}"),  # agentdeck API keys
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@ in URLs
)


def redact_text(text: str, max_chars: int) -> str:
    for pattern in _SECRET_TEXT:
        text = pattern.sub(REDACTED, text)
    return text if len(text) <= max_chars else text[:max_chars] + f"…[{len(text) - max_chars} more chars]"


def redact(value: Any, max_chars: int = 2000, depth: int = 0) -> Any:
    """A copy of a JSON value with secrets replaced and every string capped at `max_chars`."""
    if isinstance(value, str):
        return redact_text(value, max_chars)
    if depth >= 8:
        return "[truncated]"
    if isinstance(value, dict):
        return {key: REDACTED if _SECRET_KEY.search(key) and isinstance(item, str) and item != ""
                else redact(item, max_chars, depth + 1) for key, item in list(value.items())[:50]}
    if isinstance(value, list):
        return [redact(item, max_chars, depth + 1) for item in value[:50]]
    return value
