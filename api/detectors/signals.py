"""Error sites and recoveries: the shared reading of events that the error rules classify.

One pass turns each event into an `Observation`: at most one `ErrorSite` (an event that reports a
failure) and the recovery channels the event clears. A channel names what can recover:

- `tool:<name>`  — a tool; cleared by a later *clean* result of that tool (status ok, no stack
  trace, exit code 0 or absent, no failure inside the output) — except a final answer's (the
  `final_answer` tool, or code calling it): answering is not handling the error.
- `llm`          — model calls; cleared by a later llm.response without an error.
- `navigation`   — page loads; cleared by a later successful browser.navigation.
- `browser`      — page interaction; cleared by a successful navigation, or an ok browser.action
  that changed the page (its screenshot/DOM digest differs) or carries no digest.
- `page:<agent>` — an agent's report of the page it is on; cleared by its next clean turn.
- `output`   — a framework's parse complaint; cleared by the next clean tool result.
- `unlinked`, `session`, `log` — never cleared.

An `error` event joins the channel of its `parent_seq` when that parent is among the last
`PARENT_WINDOW` events; otherwise it is `unlinked`.

Causes: every observation names `cause_seq`, the decision that produced it. Decisions are
`llm.response` events without an error (in a multi-agent transcript, each agent turn; `name` is
the agent). A tool call is caused by its parent decision, else the latest decision before it
(else by itself); a result by its call's cause; a result without a call (an executor speaking in
a group chat) by the latest turn of another agent that wrote a code block, else the latest turn
of another agent; everything else by the latest decision at or before it. With no decision before
it, an event is its own cause.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from api.detectors.events import (
    OUTPUT_TAIL,
    ErrorInfo,
    Event,
    error_info,
    http_status,
    int_of,
    last_line,
    list_of,
    mapping_of,
    scalar_text,
    shorten,
    str_of,
)
from api.detectors.inline_failures import (
    InlineFailure,
    executor_exit_code,
    failure_in_agent_report,
    failure_in_output,
    failure_in_page_report,
    parse_complaint,
)
from api.detectors.tracebacks import Traceback, find_traceback

PARENT_WINDOW = 4096
RECENT_TURNS = 16  # agent turns searched back for the author of an executor's input
# Magentic-One logs a role per message kind: `Orchestrator (thought)`, `(-> WebSurfer)`, `(final answer)`.
_AGENT_SUFFIX = re.compile(r"\s*\([^()]*\)\s*$")
_CODE_BLOCK = "```"
_CODE_FAILED = "Code execution failed"
FAILED_OUTCOMES = frozenset({"failure", "error"})
_OUTPUT_TEXT_KEYS = ("stderr", "stdout", "output", "result", "error", "traceback", "text")
_EXIT_CODE_KEYS = ("exit_code", "returncode", "exit_status", "exitCode")


class _Reported(Enum):
    AS_REPORTED = "as reported"


# A sentinel rather than None: a field given as None must stay None even where the error object
# carries an empty string for it.
_AS_REPORTED: Final = _Reported.AS_REPORTED


@dataclass(frozen=True, slots=True)
class ErrorSite:
    """An event that reports a failure, with what the rules match on."""

    seq: int
    source: str  # the event type that carried it
    channel: str
    tool: str | None
    failed: bool  # reported as failed (status error, an error object, an error event)
    error_type: str | None
    message: str
    code: str | None
    status: int | None
    exit_code: int | None
    traceback: Traceback | None
    text: str  # what keyword rules search: type, code, message and (for failed tools) the output tail
    url: str | None = None
    selector: str | None = None
    cause_seq: int | None = None
    inline: str | None = None  # what kind of failure an ok result carried (inline_failures)

    @classmethod
    def reported(
        cls,
        event: Event,
        channel: str,
        error: ErrorInfo | None,
        message: str,
        *,
        error_type: str | None | _Reported = _AS_REPORTED,
        code: str | None | _Reported = _AS_REPORTED,
        status: int | None | _Reported = _AS_REPORTED,
        tool: str | None = None,
        failed: bool = True,
        exit_code: int | None = None,
        traceback: Traceback | None = None,
        detail: str | None = None,
        url: str | None = None,
        selector: str | None = None,
        cause_seq: int | None = None,
        inline: str | None = None,
    ) -> ErrorSite:
        """The site `event` reports: `error_type`, `code` and `status` are the error object's unless
        given; `message` stands in when the error object has none; `detail` is searched too."""
        if error_type is _AS_REPORTED:
            error_type = error.type if error else None
        if code is _AS_REPORTED:
            code = error.code if error else None
        if status is _AS_REPORTED:
            status = error.status if error else None
        message = (error.message if error else None) or message
        return cls(
            seq=event.seq,
            source=event.type,
            channel=channel,
            tool=tool,
            failed=failed,
            error_type=error_type,
            message=shorten(message),
            code=code,
            status=status,
            exit_code=exit_code,
            traceback=traceback,
            text=_join(error_type, code, message, detail),
            url=url,
            selector=selector,
            cause_seq=cause_seq,
            inline=inline,
        )

    def facts(self) -> dict[str, Any]:
        """The matched facts, for a finding's evidence (absent fields left out)."""
        found: dict[str, Any] = {"source": self.source}
        for key, value in (
            ("tool", self.tool),
            ("error_type", self.error_type),
            ("code", self.code),
            ("status", self.status),
            ("exit_code", self.exit_code),
            ("url", self.url),
            ("selector", self.selector),
            ("inline", self.inline),
        ):
            if value is not None:
                found[key] = value
        if self.message:
            found["message"] = self.message
        return found


@dataclass(frozen=True, slots=True)
class Observation:
    event: Event
    site: ErrorSite | None = None
    recovers: tuple[str, ...] = ()
    cause_seq: int | None = None  # the decision this event follows from (see the module doc)

    @property
    def cause(self) -> int:
        return self.event.seq if self.cause_seq is None else self.cause_seq


@dataclass(frozen=True, slots=True)
class _Call:
    tool: str | None
    cause: int
    final: bool  # a final answer (see `gives_up`)


@dataclass(frozen=True, slots=True)
class _Turn:
    seq: int
    agent: str | None
    wrote_code: bool


class SignalExtractor:
    """Reads error sites, recoveries and causes from events in seq order, with bounded state."""

    def __init__(self) -> None:
        self._channels: dict[int, tuple[str, str | None, int | None]] = {}  # recent seq -> (channel, tool, cause)
        self._calls: dict[str, _Call] = {}  # recent call_id -> its call
        self._last_call: dict[str, _Call] = {}  # tool -> its latest call, until its result
        self._turns: deque[_Turn] = deque(maxlen=RECENT_TURNS)
        self._page: tuple[str | None, str | None] | None = None

    def observe(self, event: Event) -> Observation:
        kind = event.type
        if kind == "tool.call":
            return self._tool_call(event)
        if kind == "tool.result":
            return self._tool_result(event)
        if kind in ("llm.request", "llm.response"):
            return self._llm(event)
        if kind == "browser.navigation":
            return self._navigation(event)
        if kind == "browser.action":
            return self._browser_action(event)
        if kind == "error":
            return self._error_event(event)
        if kind == "session.end":
            return self._session_end(event)
        return Observation(event, cause_seq=self._latest_decision())

    # -- causes -----------------------------------------------------------------------------

    def _latest_decision(self) -> int | None:
        return self._turns[-1].seq if self._turns else None

    def _decision_of(self, event: Event) -> int | None:
        """The parent decision when `parent_seq` names a recent turn, else the latest decision."""
        if event.parent_seq is not None and any(turn.seq == event.parent_seq for turn in self._turns):
            return event.parent_seq
        return self._latest_decision()

    def _author_for(self, executor: str | None) -> int | None:
        """The turn of another agent that wrote the code an executor ran (else that agent's latest turn)."""
        fallback = None
        for turn in reversed(self._turns):
            if executor is not None and turn.agent == executor:
                continue
            if turn.wrote_code:
                return turn.seq
            if fallback is None:
                fallback = turn.seq
        return fallback

    # -- per type ---------------------------------------------------------------------------

    def _tool_call(self, event: Event) -> Observation:
        tool = _tool_name(event)
        decision = self._decision_of(event)
        cause = event.seq if decision is None else decision  # a call no model turn asked for decides itself
        call_id = str_of(event.payload.get("call_id"))
        call = _Call(tool, cause, gives_up(tool, event.payload.get("arguments")))
        if call_id is not None:
            _remember(self._calls, call_id, call)
        _remember(self._last_call, tool or "", call)
        self._link(event.seq, f"tool:{tool}", tool, cause)
        return Observation(event, cause_seq=cause)

    def _tool_result(self, event: Event) -> Observation:
        payload = event.payload
        tool = _tool_name(event)
        call = self._calls.get(str_of(payload.get("call_id")) or "")
        if tool is None and call is not None:
            tool = call.tool
        latest = self._last_call.pop(tool or "", None)
        call = call or latest
        if call is None:  # no call: an executor running code another agent wrote
            return self._executor_output(event, tool, payload.get("output"), self._author_for(agent_of(event)))
        return self._executor_output(event, tool, payload.get("output"), call.cause, final=call.final)

    def _executor_output(
        self, event: Event, tool: str | None, output: object, cause: int | None, final: bool = False
    ) -> Observation:
        """A tool's (or an executor agent's) result: failed, failing inside an ok output, or clean."""
        payload = event.payload
        channel = f"tool:{tool}"
        self._link(event.seq, channel, tool, cause)
        status = str_of(payload.get("status"))
        error = error_info(payload.get("error"))
        failed = status == "error" or (status != "ok" and error is not None)
        output_texts = _output_texts(output)
        exit_code = _exit_code(payload)
        if exit_code is None and output_texts:
            exit_code = executor_exit_code(output_texts[0])
        trace_sources = [*output_texts]
        if error is not None:
            trace_sources += [text for text in (error.stack, error.message) if text]
        traceback = next((t for t in map(find_traceback, trace_sources) if t is not None), None)
        nonzero_exit = exit_code is not None and exit_code != 0
        inline: InlineFailure | None = None
        if not (failed or traceback or nonzero_exit):
            # The output's own first line, else (a text browser's `Address: …\nTitle: …` page) its title.
            inline = next((f for f in map(_failure_in_ok_output, output_texts) if f is not None), None)
            if inline is None:
                # A final answer is not a retry: its clean result recovers nothing it did not fix.
                return Observation(event, recovers=() if final else (channel, "output"), cause_seq=cause)
        message = (
            (_traceback_line(traceback) if traceback else None)
            or (inline.message if inline else None)
            or next((last_line(text) for text in output_texts if last_line(text)), "")
        )
        site = ErrorSite.reported(
            event,
            channel,
            error,
            message,
            error_type=(error.type if error else None) or (traceback.exception_type if traceback else None),
            status=(error.status if error else None) or http_status(payload.get("status_code")),
            tool=tool,
            failed=failed,
            exit_code=exit_code,
            traceback=traceback,
            detail=(output_texts[0][-OUTPUT_TAIL:] if failed and output_texts else None) or _page_status(inline),
            cause_seq=cause,
            inline=inline.kind if inline else ("exit_status" if nonzero_exit and not traceback else None),
        )
        return Observation(event, site=site, cause_seq=cause)

    def _llm(self, event: Event) -> Observation:
        if event.type == "llm.request":
            cause = self._latest_decision()
            self._link(event.seq, "llm", None, cause)
            return Observation(event, cause_seq=cause)
        payload = event.payload
        error = error_info(payload.get("error"))
        finish = str_of(payload.get("finish_reason"))
        if error is not None or finish in ("error", "model_context_window_exceeded"):
            self._link(event.seq, "llm", None, event.seq)
            code = (error.code if error else None) or (finish if finish != "error" else None)
            site = ErrorSite.reported(event, "llm", error, f"finish_reason {finish}", code=code, cause_seq=event.seq)
            return Observation(event, site=site, cause_seq=event.seq)
        agent = agent_of(event)
        text = _content_text(payload.get("content"))
        if executor_exit_code(text) is not None:
            # An executor's output recorded as an agent turn (a group chat's terminal): read as a tool result.
            return self._executor_output(event, agent, text, self._author_for(agent))
        self._turns.append(_Turn(event.seq, agent, _CODE_BLOCK in text or bool(payload.get("tool_calls"))))
        self._link(event.seq, "llm", None, event.seq)
        page = (failure_in_agent_report(text) or failure_in_page_report(text)) if text else None
        if page is None:
            return Observation(event, recovers=("llm", f"page:{agent}"), cause_seq=event.seq)
        traceback = find_traceback(text) if page.kind == "agent_error" else None
        site = ErrorSite.reported(
            event, f"page:{agent}", None, (_traceback_line(traceback) if traceback else None) or page.message,
            error_type=traceback.exception_type if traceback else None, status=None, tool=agent, failed=False,
            traceback=traceback, detail=_page_status(page), cause_seq=event.seq, inline=page.kind,
        )  # fmt: skip
        return Observation(event, site=site, recovers=("llm",), cause_seq=event.seq)

    def _navigation(self, event: Event) -> Observation:
        cause = self._decision_of(event)
        self._link(event.seq, "navigation", None, cause)
        payload = event.payload
        url = str_of(payload.get("url"))
        status = http_status(payload.get("status_code"))
        error = error_info(payload.get("error"))
        self._page = None
        if error is None and (status is None or status < 400):
            return Observation(event, recovers=("navigation", "browser"), cause_seq=cause)
        site = ErrorSite.reported(
            event,
            "navigation",
            error,
            f"navigation returned HTTP {status}",
            status=status if status is not None and status >= 400 else (error.status if error else None),
            url=url,
            cause_seq=cause,
        )
        return Observation(event, site=site, cause_seq=cause)

    def _browser_action(self, event: Event) -> Observation:
        cause = self._decision_of(event)
        self._link(event.seq, "browser", None, cause)
        payload = event.payload
        before, after = self._page, page_digest(payload)
        if after is not None:
            self._page = after
        status = str_of(payload.get("status"))
        error = error_info(payload.get("error"))
        if status == "error" or (status != "ok" and error is not None):
            action = str_of(payload.get("action"))
            site = ErrorSite.reported(
                event,
                "browser",
                error,
                f"browser action {action} failed",
                selector=scalar_text(payload.get("selector")),
                cause_seq=cause,
            )
            return Observation(event, site=site, cause_seq=cause)
        if after is None or before is None or not same_page(before, after):
            return Observation(event, recovers=("browser",), cause_seq=cause)
        return Observation(event, cause_seq=cause)

    def _error_event(self, event: Event) -> Observation:
        payload = event.payload
        parent = self._channels.get(event.parent_seq) if event.parent_seq is not None else None
        channel, tool, cause = parent if parent is not None else ("unlinked", None, self._latest_decision())
        status = next(
            (s for key in ("status", "status_code", "code") if (s := http_status(payload.get(key))) is not None), None
        )
        message = str_of(payload.get("message")) or ""
        # smolagents reports a crash of the agent's code as an error of the step, not of a tool result.
        ran_code = find_traceback(message) if _CODE_FAILED in message else None
        site = ErrorSite.reported(
            event,
            channel,
            None,
            message,
            error_type=str_of(payload.get("type")) or (ran_code.exception_type if ran_code else None),
            code=scalar_text(payload.get("code")),
            status=status,
            tool=tool,
            traceback=ran_code,
            cause_seq=cause,
            inline="parse_complaint" if parse_complaint(message) else None,
        )
        return Observation(event, site=site, cause_seq=cause)

    def _session_end(self, event: Event) -> Observation:
        payload = event.payload
        cause = self._latest_decision()
        if str_of(payload.get("outcome")) not in FAILED_OUTCOMES:
            return Observation(event, cause_seq=cause)
        error = error_info(payload.get("error"))
        reason = str_of(payload.get("reason"))
        if error is None and not reason:
            return Observation(event, cause_seq=cause)
        # Merged here as well, because the reason is searched only when it is not already the message.
        message = (error.message if error else None) or reason or ""
        site = ErrorSite.reported(
            event,
            "session",
            error,
            message,
            code=(error.code if error else None) or (reason if reason and _is_identifier(reason) else None),
            detail=reason if reason != message else None,
            cause_seq=cause,
        )
        return Observation(event, site=site, cause_seq=cause)

    def _link(self, seq: int, channel: str, tool: str | None, cause: int | None) -> None:
        _remember(self._channels, seq, (channel, tool, cause))


def agent_of(event: Event) -> str | None:
    """The speaking agent: the event's `name` without a role suffix (`Orchestrator (thought)` → Orchestrator)."""
    name = event.name
    if name is None or "(" not in name:
        return name
    return _AGENT_SUFFIX.sub("", name) or name


def page_digest(payload: Mapping[str, Any]) -> tuple[str | None, str | None] | None:
    """(screenshot digest, DOM digest) of a browser event, or None when it carries neither."""
    screenshot = str_of(payload.get("screenshot_digest"))
    dom = str_of(payload.get("dom_digest"))
    return None if screenshot is None and dom is None else (screenshot, dom)


def same_page(before: tuple[str | None, str | None], after: tuple[str | None, str | None]) -> bool:
    """Unchanged when every digest both sides carry is equal (and they share at least one)."""
    shared = [(b, a) for b, a in zip(before, after, strict=True) if b is not None and a is not None]
    return bool(shared) and all(b == a for b, a in shared)


def _page_status(failure: InlineFailure | None) -> str | None:
    """The status an error page states, written the way the cause rules read a status in a message."""
    return f"HTTP {failure.status}" if failure is not None and failure.status is not None else None


def _failure_in_ok_output(text: str) -> InlineFailure | None:
    return failure_in_output(text) or failure_in_page_report(text)


def gives_up(tool: str | None, arguments: object) -> bool:
    """A final answer: the `final_answer` tool, or code that calls it (smolagents' CodeAgent)."""
    if tool == "final_answer":
        return True
    code = mapping_of(arguments)
    text = str_of(code.get("code")) if code is not None else str_of(arguments)
    return text is not None and "final_answer(" in text


def _tool_name(event: Event) -> str | None:
    return str_of(event.payload.get("tool")) or event.name


def _exit_code(payload: Mapping[str, Any]) -> int | None:
    code = int_of(payload.get("exit_code"))
    if code is not None:
        return code
    output = mapping_of(payload.get("output"))
    if output is None:
        return None
    for key in _EXIT_CODE_KEYS:
        code = int_of(output.get(key))
        if code is not None:
            return code
    return None


def _content_text(content: object) -> str:
    """The text of a response's `content`: a string, or the text parts of a list of blocks."""
    if isinstance(content, str):
        return content
    texts = []
    for block in list_of(content) or ():
        part = mapping_of(block)
        text = str_of(part.get("text")) if part is not None else str_of(block)
        if text:
            texts.append(text)
    return "".join(texts)


def _output_texts(output: object) -> list[str]:
    if isinstance(output, str):
        return [output] if output else []
    mapping = mapping_of(output)
    if mapping is None:
        return []
    return [text for key in _OUTPUT_TEXT_KEYS if (text := str_of(mapping.get(key)))]


def _traceback_line(traceback: Traceback) -> str | None:
    if traceback.exception_type is None:
        return traceback.message
    if traceback.message:
        return f"{traceback.exception_type}: {traceback.message}"
    return traceback.exception_type


def _join(*parts: str | None) -> str:
    return "\n".join(part for part in parts if part)


def _is_identifier(text: str) -> bool:
    return len(text) <= 64 and text.replace("_", "").replace("-", "").replace(".", "").isalnum()


def _remember(store: dict[Any, Any], key: Any, value: Any) -> None:
    store.pop(key, None)
    store[key] = value
    if len(store) > PARENT_WINDOW:
        del store[next(iter(store))]
