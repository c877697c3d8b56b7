"""Spans → agentdeck events, grouped into one session per trace and put in a deterministic order.

Every span yields events by its role (see `conventions.span_role`); docs/otlp.md has the table.
Each event sits at an instant: a span's opening event at its start, exception and recovery events
at their own time, its closing event at its end; `session.end` always last. Ties break on depth
(parents open first and close last), then span id, then the event's place in its span. Seq numbers
are assigned later, in SQL, in this order.

Idempotency keys come from span ids (`<span_id>`, `<span_id>:end`, `<span_id>:event:<n>`), so a
re-sent export replays exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from api.otlp import conventions as cv
from api.otlp.spans import STATUS_ERROR, Span, SpanEvent

NAME_LIMIT = 500
CODE_TOOL = "python_interpreter"
_STEP_NAME = re.compile(r"^Step \d+$")
_OPEN, _POINT, _CLOSE, _LAST = 0, 1, 2, 3


@dataclass(frozen=True)
class MappedEvent:
    span_id: str
    key: str
    type: str
    name: str
    time_ns: int
    payload: dict[str, Any]
    parent_key: str | None
    order: tuple[int, int, int, int, str, int]


@dataclass
class TraceEvents:
    trace_id: str
    name: str | None
    agent: dict[str, Any] | None
    events: list[MappedEvent]
    unmapped: dict[str, str]  # span id -> why it could not be read (odd attribute shapes)


def map_export(spans: Iterable[Span]) -> list[TraceEvents]:
    """The export's spans as sessions (in order of first appearance), each with its ordered events."""
    by_trace: dict[str, list[Span]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    return [_map_trace(trace_id, trace_spans) for trace_id, trace_spans in by_trace.items()]


def iso(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns // 1_000_000_000, UTC).replace(
        microsecond=(time_ns % 1_000_000_000) // 1000).isoformat()


def _map_trace(trace_id: str, spans: list[Span]) -> TraceEvents:
    by_id = {span.span_id: span for span in spans}
    # The session is the trace's first parentless span; any other parentless span is a step of it.
    roots = sorted((s for s in spans if s.parent_span_id is None), key=lambda s: (s.start_ns, s.span_id))
    root = roots[0] if roots else None
    events: list[MappedEvent] = []
    unmapped: dict[str, str] = {}
    for span in spans:
        depth, opener = _ancestry(span, by_id, root)
        try:
            events.extend(_SpanMapper(span, depth, opener, root=span is root).events())
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
            # Attributes in a shape no convention foresaw: this span is refused, the export goes on.
            unmapped[span.span_id] = f"attributes could not be mapped ({type(exc).__name__})"
    events.sort(key=lambda event: event.order)
    name = agent = None
    if root is not None:
        name = root.name[:NAME_LIMIT] or None
        agent_name = root.attributes.get("gen_ai.agent.name") or root.resource.get("service.name")
        agent = {"name": agent_name} if isinstance(agent_name, str) else None
    return TraceEvents(trace_id, name, agent, events, unmapped)


def _ancestry(span: Span, by_id: dict[str, Span], root: Span | None) -> tuple[int, str | None]:
    """The span's depth in the export, and the nearest ancestor in it with an opening event (its parent_seq):
    model calls, tools and the session's root have one; steps do not."""
    depth, seen, current, opener = 0, {span.span_id}, span, None
    while current.parent_span_id in by_id and current.parent_span_id not in seen:
        current = by_id[current.parent_span_id]
        seen.add(current.span_id)
        depth += 1
        if opener is None and (current is root or cv.span_role(current) != "step"):
            opener = current.span_id
    return depth, opener


def _errors(span: Span) -> list[tuple[SpanEvent | None, dict[str, Any]]]:
    """The failures a span reports: one per exception event; else its ERROR status, if any."""
    found: list[tuple[SpanEvent | None, dict[str, Any]]] = []
    seen: set[tuple[Any, str]] = set()
    for event in span.events:
        if event.name == "exception":
            attributes = event.attributes
            error = {"type": attributes.get("exception.type"),
                     "message": attributes.get("exception.message") or span.status_message or "exception",
                     "stack": attributes.get("exception.stacktrace")}
            error = {k: str(v) for k, v in error.items() if v is not None}
            # The same exception recorded twice (smolagents records a failed step's error twice) is one failure.
            identity = (error.get("type"), str(error["message"]))
            if identity not in seen:
                seen.add(identity)
                found.append((event, error))
    if not found and span.status_code == STATUS_ERROR:
        error_type = span.attributes.get("error.type")
        error = {"message": span.status_message or f"span {span.name!r} ended with status ERROR"}
        if isinstance(error_type, str):
            error["type"] = error_type
        found.append((None, error))
    return found


class _SpanMapper:
    def __init__(self, span: Span, depth: int, opener: str | None, *, root: bool) -> None:
        self.span = span
        self.depth = depth
        self.opener = opener
        self.end_ns = max(span.end_ns, span.start_ns)
        self.role = cv.span_role(span)
        self.root = root
        self.out: list[MappedEvent] = []

    def events(self) -> list[MappedEvent]:
        if self.role == "llm":
            self._llm()
        elif self.role == "tool":
            self._tool()
        elif self.root:
            self._session()
        else:
            self._step()
        return self.out

    # The span's identity, on every payload: where the event came from in the trace.
    def _origin(self) -> dict[str, Any]:
        origin: dict[str, Any] = {"span_id": self.span.span_id, "name": self.span.name}
        if self.span.parent_span_id:
            origin["parent_span_id"] = self.span.parent_span_id
        kind = self.span.attributes.get("openinference.span.kind") or self.span.attributes.get("gen_ai.operation.name")
        if isinstance(kind, str):
            origin["kind"] = kind
        return origin

    def _emit(self, slot: str, event_type: str, payload: dict[str, Any], phase: int, time_ns: int,
              parent_key: str | None, name: str | None = None) -> None:
        span = self.span
        key = span.span_id if slot == "" else f"{span.span_id}:{slot}"
        depth_order = self.depth if phase == _OPEN else -self.depth
        payload["span"] = self._origin()
        self.out.append(MappedEvent(
            span_id=span.span_id, key=key, type=event_type, name=(name or span.name)[:NAME_LIMIT],
            time_ns=time_ns, payload=payload, parent_key=parent_key,
            order=(1 if phase == _LAST else 0, time_ns, phase, depth_order, span.span_id, len(self.out)),
        ))

    def _open(self, event_type: str, payload: dict[str, Any], name: str | None = None) -> str:
        self._emit("", event_type, payload, _OPEN, self.span.start_ns, self.opener, name)
        return self.span.span_id

    def _within(self, event: SpanEvent | None) -> int:
        """A span event's time, kept inside its span (unset: the span's end)."""
        if event is None or not event.time_ns:
            return self.end_ns
        return min(max(event.time_ns, self.span.start_ns), self.end_ns)

    def _point_errors(self, parent_key: str | None, errors: list[tuple[SpanEvent | None, dict[str, Any]]]) -> None:
        for index, (event, error) in enumerate(errors):
            time_ns = self._within(event)
            self._emit(f"error:{index}", "error", dict(error), _POINT, time_ns, parent_key)

    def _recoveries(self, parent_key: str | None) -> None:
        # smolagents marks errors the agent recovers from (a bad tool call) with agent.step_recovery.
        for index, event in enumerate(self.span.events):
            if event.name != "agent.step_recovery":
                continue
            attributes = event.attributes
            error = {"message": attributes.get("message") or "recoverable agent error",
                     "type": attributes.get("type"), "severity": attributes.get("severity", "expected")}
            self._emit(f"event:{index}", "error", {k: str(v) for k, v in error.items() if v is not None}, _POINT,
                       self._within(event), parent_key)

    def _llm(self) -> None:
        attributes = self.span.attributes
        model = cv.model_name(attributes)
        request: dict[str, Any] = {"model": model, "messages": cv.request_messages(self.span)}
        instructions = cv.system_instructions(attributes)
        if instructions is not None:
            request["system_instructions"] = instructions
        tools = cv.declared_tools(attributes)
        if tools:
            request["tools"] = tools
        provider = attributes.get("gen_ai.provider.name", attributes.get("gen_ai.system",
                                                                         attributes.get("llm.provider")))
        if isinstance(provider, str):
            request["provider"] = provider
        opened = self._open("llm.request", request)
        response: dict[str, Any] = {"model": model, "usage": cv.usage(attributes), **cv.response_message(self.span)}
        errors = _errors(self.span)
        if errors:
            response["error"] = errors[0][1]
        self._emit("end", "llm.response", response, _CLOSE, self.end_ns, opened)

    def _tool(self) -> None:
        attributes = self.span.attributes
        tool = cv.tool_name(self.span)
        call: dict[str, Any] = {"tool": tool, "arguments": cv.tool_arguments(attributes)}
        call_id = cv.tool_call_id(attributes)
        if call_id is not None:
            call["call_id"] = call_id
        opened = self._open("tool.call", call, name=tool)
        result: dict[str, Any] = {"tool": tool, "status": "ok"}
        output = cv.tool_output(attributes)
        if output is not None:
            result["output"] = output
        if call_id is not None:
            result["call_id"] = call_id
        errors = _errors(self.span)
        if errors:
            result["status"] = "error"
            result["error"] = errors[0][1]
        self._recoveries(opened)
        self._emit("end", "tool.result", result, _CLOSE, self.end_ns, opened, name=tool)

    def _session(self) -> None:
        attributes = self.span.attributes
        start: dict[str, Any] = {"agent": {"name": attributes.get("gen_ai.agent.name") or self.span.name}}
        tools = cv.declared_tools(attributes)
        if tools:
            start["tools"] = tools
        task = attributes.get("input.value", attributes.get("smolagents.task"))
        if task is not None:
            start["input"] = cv.maybe_json(task)
        opened = self._open("session.start", start)
        errors = _errors(self.span)
        self._recoveries(opened)
        self._point_errors(opened, errors)
        end: dict[str, Any] = {"outcome": "error" if self.span.status_code == STATUS_ERROR else "success"}
        if errors:
            end["error"] = errors[0][1]
        output = attributes.get("output.value")
        if output is not None:
            end["output"] = cv.maybe_json(output)
        usage = cv.usage(attributes)
        if usage:
            end["usage"] = usage
        self._emit("end", "session.end", end, _LAST, self.end_ns, opened)

    def _step(self) -> None:
        attributes = self.span.attributes
        self._recoveries(None)
        errors = _errors(self.span)
        if _runs_code(self.span, errors):
            self._code_execution(errors)
            return
        self._point_errors(None, errors)
        summary: dict[str, Any] = {"status": "error" if self.span.status_code == STATUS_ERROR else "ok"}
        output = attributes.get("output.value")
        if output is not None:
            summary["output"] = cv.maybe_json(output)
        self._emit("end", "custom.span", summary, _CLOSE, self.end_ns, None)

    def _code_execution(self, errors: list[tuple[SpanEvent | None, dict[str, Any]]]) -> None:
        # A smolagents CodeAgent step runs the model's code in its interpreter without a tool span of
        # its own; smolagents records that action as a `python_interpreter` call, and so do we.
        result: dict[str, Any] = {"tool": CODE_TOOL, "status": "error" if errors else "ok"}
        output = self.span.attributes.get("output.value")
        if output is not None:
            result["output"] = output
        if errors:
            error = dict(errors[0][1])
            # AgentExecutionError only wraps: the code's own error is named in its message ("due to: KeyError"),
            # while its type and stack are the agent's, so they are kept aside.
            if str(error.get("type", "")).endswith("AgentExecutionError"):
                error["agent_error"] = error.pop("type")
                if "stack" in error:
                    error["agent_stack"] = error.pop("stack")
            result["error"] = error
        self._emit("end", "tool.result", result, _CLOSE, self.end_ns, None, name=CODE_TOOL)


def _runs_code(span: Span, errors: list[tuple[SpanEvent | None, dict[str, Any]]]) -> bool:
    """A smolagents CodeAgent step: a `Step N` span whose observation is execution logs or whose
    failure is a code execution error."""
    if not _STEP_NAME.match(span.name):
        return False
    output = span.attributes.get("output.value")
    if isinstance(output, str) and output.startswith("Execution logs:"):
        return True
    return any(str(error.get("type", "")).endswith("AgentExecutionError")
               or str(error.get("message", "")).startswith("Code execution failed") for _, error in errors)
