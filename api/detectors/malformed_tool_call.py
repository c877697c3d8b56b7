"""malformed_tool_call — the model asked for a tool call that cannot be executed as written.

Rule: a tool.call (or a tool call inside an llm.response) is malformed when
- its arguments are a string that looks like JSON (starts with `{` or `[`) but does not parse
  (STRONG);
- the tool declares a parameters schema (session.start `tools`, `{"name", "parameters"}` or the
  OpenAI `{"type": "function", "function": {...}}` shape) and the arguments are not an object
  (STRONG; MEDIUM for a plain non-JSON string), miss a `required` key (STRONG), or give a declared
  property a value of the wrong JSON type (MEDIUM);
- session.start listed the tools (a non-empty list) and this tool is not among them (MEDIUM:
  frameworks add built-ins the list may not mention);
- it names no tool at all (MEDIUM).
A malformed call is recovered by a later well-formed call of the same tool (an undeclared tool: by
any later well-formed call). Without a schema, arguments that are not JSON-looking strings are
accepted as raw input. Cause: the response that asked for the call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from api.detectors.canonical import canonical_json
from api.detectors.events import list_of, mapping_of, shorten, str_of
from api.detectors.finding import MEDIUM, STRONG, Detector, Finding, Match, SessionEnd, Signature
from api.detectors.pending import PendingMatches
from api.detectors.signals import Observation

MAX_TOOLS = 1024
MAX_CALLS_PER_RESPONSE = 64
_UNDECLARED = "<undeclared>"
_UNNAMED = "<unnamed>"
_MISSING = object()


class MalformedToolCall(Detector):
    label = "malformed_tool_call"
    event_types = frozenset({"session.start", "tool.call", "llm.response"})

    def __init__(self) -> None:
        self._tools: dict[str, Mapping[str, Any] | None] | None = None
        self._pending = PendingMatches()

    def observe(self, observation: Observation) -> None:
        event = observation.event
        payload = event.payload
        if event.type == "session.start":
            self._declare(payload.get("tools"))
        elif event.type == "tool.call":
            tool = str_of(payload.get("tool")) or event.name
            self._check(event.seq, observation.cause, "tool.call", tool, payload.get("arguments", _MISSING))
        elif payload.get("error") is None:
            for call in (list_of(payload.get("tool_calls")) or ())[:MAX_CALLS_PER_RESPONSE]:
                tool, arguments = _call_parts(call)
                self._check(event.seq, event.seq, "llm.response", tool, arguments)

    def findings(self, end: SessionEnd) -> list[Finding]:
        return self._pending.findings(self.label)

    def _declare(self, tools: object) -> None:
        declared: dict[str, Mapping[str, Any] | None] = {}
        for entry in (list_of(tools) or ())[:MAX_TOOLS]:
            if isinstance(entry, str):
                declared[entry] = None
                continue
            spec = mapping_of(entry)
            if spec is None:
                continue
            function = mapping_of(spec.get("function")) or spec
            name = str_of(function.get("name"))
            if name is None:
                continue
            schema = mapping_of(function.get("parameters")) or mapping_of(function.get("input_schema"))
            declared[name] = schema
        self._tools = declared or None

    def _check(self, seq: int, cause: int, source: str, tool: str | None, arguments: object) -> None:
        problem = self._problem(tool, arguments)
        if problem is None:
            if tool is not None:
                self._pending.clear(tool, seq)
            self._pending.clear(_UNDECLARED, seq)
            return
        confidence, kind, message = problem
        channel = _UNNAMED if tool is None else _UNDECLARED if kind == "undeclared_tool" else tool
        facts: dict[str, Any] = {"source": source, "tool": tool, "problem": kind, "message": message}
        if kind == "undeclared_tool" and self._tools is not None:
            facts["declared_tools"] = sorted(self._tools)[:20]
        self._pending.add(
            channel,
            Match(
                seq=seq,
                confidence=confidence,
                signature=Signature(tool=tool, error_type=kind, message=message),
                reason=f"malformed tool call in {source} at seq {seq}: {message}",
                facts=facts,
                cause_seq=cause,
            ),
        )

    def _problem(self, tool: str | None, arguments: object) -> tuple[float, str, str] | None:
        if tool is None or not tool:
            return MEDIUM, "missing_tool_name", "tool call names no tool"
        if self._tools is not None and tool not in self._tools:
            return MEDIUM, "undeclared_tool", f"tool {tool!r} is not among the tools the agent was given"
        value: object = {} if arguments is _MISSING or arguments is None else arguments
        raw_string = False
        if isinstance(value, str):
            text = value.strip()
            if not text:
                value = {}
            elif text[0] in "{[":
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as error:
                    return STRONG, "invalid_json", f"arguments are not valid JSON: {error.msg} at char {error.pos}"
                except (ValueError, RecursionError):
                    return STRONG, "invalid_json", "arguments are not valid JSON"
            else:
                raw_string = True
        schema = self._tools.get(tool) if self._tools is not None else None
        if schema is None or not ("properties" in schema or "required" in schema):
            return None
        if not isinstance(value, Mapping):
            confidence = MEDIUM if raw_string else STRONG
            return confidence, "not_an_object", "arguments are not a JSON object"
        required = [key for key in (list_of(schema.get("required")) or ()) if isinstance(key, str)]
        missing = [key for key in required if key not in value]
        if missing:
            return STRONG, "missing_required", f"missing required argument(s): {', '.join(missing)}"
        properties = mapping_of(schema.get("properties")) or {}
        for key in sorted(k for k in value if isinstance(k, str)):
            spec = mapping_of(properties.get(key))
            if spec is None:
                continue
            expected = _declared_types(spec.get("type"))
            if expected and not any(_has_type(value[key], name) for name in expected):
                shown = shorten(canonical_json(value[key]), 80)
                return MEDIUM, "wrong_type", f"argument {key!r} should be {'|'.join(expected)}, got {shown}"
        return None


def _call_parts(call: object) -> tuple[str | None, object]:
    spec = mapping_of(call)
    if spec is None:
        return None, _MISSING
    function = mapping_of(spec.get("function")) or spec
    # OpenAI and smolagents say `arguments`; LangChain/LangGraph tool calls say `args`.
    return str_of(function.get("name")), function.get("arguments", function.get("args", _MISSING))


def _declared_types(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [name for name in (list_of(value) or ()) if isinstance(name, str)]


def _has_type(value: object, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "object":
        return isinstance(value, Mapping)
    if name == "array":
        return isinstance(value, list | tuple)
    if name == "null":
        return value is None
    return True  # a type we do not check
