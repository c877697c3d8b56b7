"""empty_or_refused_response — the model answered with nothing usable, or refused.

Rule: an llm.response without an error that
- is a refusal by its fields: a non-empty `refusal`, or finish_reason `content_filter`, `refusal`
  or `safety` (STRONG);
- has a `content` field that is null, empty or blank, and no tool calls (MEDIUM); a response that
  has no `content` key at all is not judged (the emitter may not record content);
- opens with a refusal phrase ("I'm sorry, but I can't help with that") and has no tool calls
  (WEAK);
recovered by a later usable response (non-empty content or tool calls, not a refusal). The response
is its own cause.
"""

from __future__ import annotations

import re
from typing import Any

from api.detectors.events import list_of, mapping_of, shorten, str_of
from api.detectors.finding import MEDIUM, STRONG, WEAK, Detector, Finding, Match, SessionEnd, Signature
from api.detectors.pending import PendingMatches
from api.detectors.signals import Observation

_REFUSAL_FINISH = frozenset({"content_filter", "refusal", "safety"})
_REFUSAL_TEXT = re.compile(
    r"^\W*(?:I'?m sorry|I am sorry|I apologi[sz]e|Sorry|Unfortunately)?[,.!]?\s*(?:but\s+)?"
    r"(?:I|I'm|I am)\s+(?:can(?:no|['’])t|cannot|am unable to|'m unable to|unable to|won['’]t|will not|must decline to)"
    r"\s+(?:help|assist|comply|provide|do that|fulfil|complete|support|answer)",
    re.IGNORECASE,
)


class EmptyOrRefusedResponse(Detector):
    label = "empty_or_refused_response"
    event_types = frozenset({"llm.response"})

    def __init__(self) -> None:
        self._pending = PendingMatches()

    def observe(self, observation: Observation) -> None:
        event = observation.event
        payload = event.payload
        if payload.get("error"):
            return
        found = _judge(payload)
        if found is None:
            self._pending.clear("llm", event.seq)
            return
        confidence, kind, message = found
        self._pending.add(
            "llm",
            Match(
                seq=event.seq,
                confidence=confidence,
                signature=Signature(tool=None, error_type=kind, message=message),
                reason=f"model gave an {kind.replace('_', ' ')} response at seq {event.seq}",
                facts={"problem": kind, "message": message, "model": str_of(payload.get("model"))},
            ),
        )

    def findings(self, end: SessionEnd) -> list[Finding]:
        return self._pending.findings(self.label)


def _judge(payload: Any) -> tuple[float, str, str] | None:
    """(confidence, kind, message) when the response is empty or a refusal; None when usable."""
    refusal = str_of(payload.get("refusal"))
    finish = str_of(payload.get("finish_reason"))
    if refusal and refusal.strip():
        return STRONG, "refusal", shorten(refusal)
    if finish in _REFUSAL_FINISH:
        return STRONG, "refusal", f"finish_reason {finish}"
    text, has_tool_calls = _content(payload)
    if has_tool_calls:
        return None
    if text is None:
        return None
    if not text.strip():
        return MEDIUM, "empty", "empty content and no tool calls"
    if _REFUSAL_TEXT.search(text[:300]):
        return WEAK, "refusal", shorten(text)
    return None


def _content(payload: Any) -> tuple[str | None, bool]:
    """(text, has tool calls); text is None when the response does not record its content."""
    has_tool_calls = bool(list_of(payload.get("tool_calls")))
    if "content" not in payload:
        return None, has_tool_calls
    content = payload.get("content")
    if content is None or isinstance(content, str):
        return content or "", has_tool_calls
    blocks = list_of(content)
    if blocks is None:
        return "", has_tool_calls
    texts: list[str] = []
    for block in blocks:
        if isinstance(block, str):
            texts.append(block)
        elif (part := mapping_of(block)) is not None:
            if part.get("type") in ("tool_use", "function_call", "tool_call"):
                has_tool_calls = True
            elif (text := str_of(part.get("text"))) is not None:
                texts.append(text)
    return "".join(texts), has_tool_calls
