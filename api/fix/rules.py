"""The rules plan: a deterministic, concrete plan from the incident and its sessions' analyses.

Pure: no clock, randomness or I/O, and nothing read in dict order, so the same incident state
gives the same plan, byte for byte, in any process. It is the plan of every fallback.
"""

from __future__ import annotations

import re
from typing import Any

from api.fix.context import FixContext, SessionEvidence, strings_of
from api.fix.outcome import PlanStep
from api.fix.redact import redact_text

# What usually causes each detector label, and what to change. Keyed by the labels of api/detectors.
_GUIDANCE: dict[str, tuple[str, str]] = {
    "tool_error": ("the tool rejected the call or failed while running it",
                   "fix the tool implementation for this input, or validate the arguments before calling it"),
    "code_execution_error": ("the code the agent ran raised an exception",
                             "fix the function named in the traceback for this input, and add a test for it"),
    "rate_limited": ("the provider throttled the requests (429)",
                     "add retries with exponential backoff honouring Retry-After, and lower the request rate"),
    "auth_error": ("a credential was missing, expired or lacked a permission",
                   "configure or refresh the credential the call uses, and check its scopes"),
    "not_found": ("the agent asked for a resource that does not exist (404)",
                  "derive the URL, path or id from a listing instead of guessing it, and handle absence"),
    "server_error": ("the upstream service failed (5xx)",
                     "retry idempotent calls with backoff and degrade gracefully when the service stays down"),
    "timeout": ("the call took longer than its time limit",
                "raise the timeout for this call, make the work smaller, or retry with backoff"),
    "loop": ("the agent repeated the same action without progress",
             "detect repeated identical calls and change strategy or stop after a bounded number of repeats"),
    "step_limit": ("the run used up its step budget before finishing",
                   "stop the repeated sub-task earlier, or raise the step limit if the task needs it"),
    "context_overflow": ("the prompt exceeded the model's context window",
                         "trim or summarise history and tool output before sending them to the model"),
    "malformed_tool_call": ("the model produced a tool call that does not match the tool's schema",
                            "tighten the tool schema and its description, and validate and repair calls"),
    "llm_error": ("the model provider returned an error",
                  "handle the provider error: retry transient ones, fix the request for the others"),
    "empty_or_refused_response": ("the model answered with nothing usable or refused",
                                  "rephrase the instruction, check the safety settings, and retry on empty answers"),
    "assertion_failed": ("the result did not match what the check expected",
                         "fix the step that produced the value the assertion compares"),
    "navigation_error": ("the browser could not reach or load the page",
                         "wait for the page correctly, check the URL, and handle failed navigations"),
    "stalled": ("the run stopped making progress",
                "add a watchdog for the stuck step and make the step report progress or fail"),
    "unexplained_failure": ("the session failed without an error the detectors recognise",
                            "log the failing step's error explicitly so the next run can be diagnosed"),
}
_DEFAULT_GUIDANCE = ("the step failed", "fix the failing step named above")
_PYTHON_FRAME = re.compile(r'File "([^"]+)", line (\d+), in ([\w<>.]+)')
_JS_FRAME = re.compile(r"\bat ([\w$.<>]+) \(([^()\s]+):(\d+):\d+\)")


def _error_of(events: list[dict[str, Any]], seq: int | None) -> dict[str, Any]:
    for event in events:
        if event.get("seq") == seq:
            payload = event.get("payload")
            error = payload.get("error") if isinstance(payload, dict) else None
            return error if isinstance(error, dict) else {}
    return {}


def innermost_frame(evidence: SessionEvidence | None) -> str | None:
    """Where the failing step's stack trace ends: `path:line in function`, if it carries one."""
    if evidence is None or evidence.finding is None:
        return None
    seq = evidence.finding.get("critical_seq")
    for event in evidence.events:
        if event.get("seq") != seq:
            continue
        for text in strings_of(event.get("payload")):
            python = _PYTHON_FRAME.findall(text)
            if python:
                path, line, function = python[-1]
                return f"{path}:{line} in {function}"
            javascript = _JS_FRAME.search(text)
            if javascript:
                return f"{javascript.group(2)}:{javascript.group(3)} in {javascript.group(1)}"
    return None


def _event_kind(events: list[dict[str, Any]], seq: int | None) -> str | None:
    return next((str(e.get("type")) for e in events if e.get("seq") == seq), None)


def _what_failed(incident: dict[str, Any], evidence: SessionEvidence | None) -> str:
    label = incident["label"]
    if evidence is None or evidence.finding is None:
        return (f"{label} in incident {incident['id']} ({incident['session_count']} sessions); no stored analysis "
                f"of its sessions carries the finding any more, so no step can be named")
    finding = evidence.finding
    signature = finding.get("signature") or {}
    seq = finding.get("critical_seq")
    error = _error_of(evidence.events, seq)
    tool = signature.get("tool") or incident.get("tool")
    error_type = error.get("type") or signature.get("error_type") or incident.get("error_type")
    message = error.get("message") or signature.get("message") or incident.get("message") or ""
    parts = [f"{label} at seq {seq} of session {evidence.session_id}"]
    kind = _event_kind(evidence.events, seq)
    if kind is not None:
        parts.append(f"({kind})")
    if tool:
        parts.append(f"in tool {tool}")
    message = str(message)
    if error_type and message.startswith(f"{error_type}:"):
        message = message[len(error_type) + 1:].strip()
    text = " ".join(parts)
    if error_type or message:
        text += ": " + ": ".join(redact_text(str(p), 300) for p in (error_type, message) if p)
    frame = innermost_frame(evidence)
    return text + (f" (raised at {redact_text(frame, 300)})" if frame else "")


def _cause(incident: dict[str, Any], evidence: SessionEvidence | None) -> str:
    cause, _ = _GUIDANCE.get(incident["label"], _DEFAULT_GUIDANCE)
    text = f"likely cause: {cause}"
    finding = evidence.finding if evidence is not None else None
    if finding is not None and isinstance(finding.get("cause_seq"), int):
        kind = _event_kind(evidence.events, finding["cause_seq"]) if evidence else None
        text += f"; the decision that issued it is seq {finding['cause_seq']}" + (f" ({kind})" if kind else "")
    if finding is not None and finding.get("recovered") is True:
        text += "; the agent recovered in this session, so the fix matters for the sessions that did not"
    occurrences = incident.get("occurrence_count")
    if isinstance(occurrences, int) and occurrences > 1:
        text += f"; seen {occurrences} times across {incident['session_count']} sessions"
    return text


def rules_plan(context: FixContext) -> list[PlanStep]:
    incident = context.incident
    evidence = context.primary
    _, change = _GUIDANCE.get(incident["label"], _DEFAULT_GUIDANCE)
    frame = innermost_frame(evidence)
    where = f" in tool {incident['tool']}" if incident.get("tool") else ""
    where = f" at {redact_text(frame, 300)}" if frame else where
    sessions = ", ".join(s.session_id for s in context.sessions) or "none linked"
    return [
        {"step": "what_failed", "text": _what_failed(incident, evidence)},
        {"step": "cause", "text": _cause(incident, evidence)},
        {"step": "change", "text": f"what to change{where}: {change}"},
        {"step": "verify", "text": (
            f"verify with a regression run: POST /api/incidents/{incident['id']}/regression-runs replaying the "
            f"incident's sessions ({sessions}); it passes when the after-sessions show no {incident['label']} "
            f"with this fingerprint ({incident['fingerprint'][:12]})"
        )},
    ]
