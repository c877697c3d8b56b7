"""The messages sent to the model: the incident, its critical events (redacted, capped) and the
chosen repository files, with the answer format the parser expects (answer.py)."""

from __future__ import annotations

import json

from api.fix.context import FixContext
from api.fix.outcome import PlanStep
from api.fix.redact import redact, redact_text

SYSTEM = (
    "You fix bugs in a code repository for the failure of an AI agent described below. Answer with a short "
    "plan as a numbered list, then one unified diff in git format (paths relative to the repository root, "
    "with a/ and b/ prefixes, correct context lines) in a ```diff fenced block. Change only the files shown. "
    "If no change to these files fixes the failure, give the plan and no diff."
)
MAX_EVENT_CHARS = 1000


def build_messages(context: FixContext, rules: list[PlanStep], files: dict[str, str],
                   base_sha: str) -> list[dict[str, str]]:
    incident = context.incident
    summary = {key: incident.get(key) for key in ("id", "title", "label", "tool", "error_type", "message",
                                                  "session_count", "occurrence_count")}
    sessions = [{"session_id": s.session_id, "finding": redact(s.finding, MAX_EVENT_CHARS),
                 "critical_step": redact(s.critical_step, MAX_EVENT_CHARS),
                 "events": redact(s.events, MAX_EVENT_CHARS)} for s in context.sessions]
    parts = [
        "## Incident\n" + json.dumps(summary, sort_keys=True),
        "## What the deterministic analysis says\n" + "\n".join(f"- {s['step']}: {s['text']}" for s in rules),
        "## Sessions (critical events, secrets redacted)\n" + json.dumps(sessions, sort_keys=True),
    ]
    shown = [f"## Repository files at commit {base_sha}"]
    shown += [f"### {path}\n```\n{redact_text(text, len(text))}\n```" for path, text in files.items()]
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts + shown)}]
