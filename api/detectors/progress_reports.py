"""A multi-agent orchestrator's own verdict on progress: Magentic-One's progress ledger and notices.

Magentic-One's orchestrator answers a progress ledger after every agent turn, a JSON object with
`is_request_satisfied`, `is_in_loop`, `is_progress_being_made`, `next_speaker` and
`instruction_or_question`, each `{"reason", "answer"}`; when it counts too many stalled rounds it
logs `Stalled.... Replanning...`, and when replanning runs out, `Replan counter exceeded...
Terminating.`. Read here: whether such a report says the run is stuck, or that it is progressing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from api.detectors.events import mapping_of

_LEDGER_LIMIT = 20_000  # a ledger is a few hundred bytes; anything far larger is not one
_NOTICE = re.compile(r"stalled\.{2,}\s*replanning|replan counter exceeded|we aren't making progress", re.IGNORECASE)


def progress_report(text: str) -> tuple[bool, str] | None:
    """(stuck, what says so) when `text` is a progress report; None when it is not one."""
    if "is_progress_being_made" not in text and "is_in_loop" not in text:
        head = text[:300]
        if "talled" not in head and "eplan" not in head and "progress" not in head:  # cheap before the regex
            return None
        notice = _NOTICE.search(head)
        return (True, notice.group(0)) if notice else None
    ledger = _ledger(text)
    if ledger is None:
        return None
    if _answer(ledger, "is_in_loop") is True:
        return True, "is_in_loop: true"
    if _answer(ledger, "is_progress_being_made") is False and _answer(ledger, "is_request_satisfied") is not True:
        return True, "is_progress_being_made: false"
    return False, "progress being made"


def _ledger(text: str) -> Any:
    start = text.find("{")
    if start < 0 or len(text) - start > _LEDGER_LIMIT:
        return None
    try:
        return json.loads(text[start : text.rfind("}") + 1])
    except (ValueError, RecursionError):
        return None


def _answer(ledger: Any, key: str) -> object:
    fields = mapping_of(ledger)
    entry = mapping_of(fields.get(key)) if fields is not None else None
    return entry.get("answer") if entry is not None else None
