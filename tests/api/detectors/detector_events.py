"""Builders for detector test sessions: events in our shapes, numbered in order."""

from __future__ import annotations

from typing import Any

from api.detectors import analyze


class Session:
    """A session's events under construction; every helper returns the new event's seq."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, type_: str, payload: dict[str, Any] | None = None, **fields: Any) -> int:
        seq = len(self.events)
        self.events.append({"seq": seq, "type": type_, "payload": payload or {}, **fields})
        return seq

    def start(self, tools: list[Any] | None = None, **payload: Any) -> int:
        if tools is not None:
            payload["tools"] = tools
        return self.add("session.start", {"agent": "test-agent", **payload})

    def end(self, outcome: str, **payload: Any) -> int:
        return self.add("session.end", {"outcome": outcome, **payload})

    def call(self, tool: str, arguments: Any = None, **payload: Any) -> int:
        return self.add("tool.call", {"tool": tool, "arguments": {} if arguments is None else arguments, **payload})

    def ok(self, tool: str, output: Any = "done", **payload: Any) -> int:
        return self.add("tool.result", {"tool": tool, "status": "ok", "output": output, **payload})

    def fail(self, tool: str, **error: Any) -> int:
        return self.add("tool.result", {"tool": tool, "status": "error", "error": error})

    def tool(self, tool: str, arguments: Any = None, output: Any = "done") -> int:
        self.call(tool, arguments)
        return self.ok(tool, output)

    def llm(self, name: str | None = None, **payload: Any) -> int:
        """A model turn; `name` is the speaking agent in a multi-agent transcript."""
        speaker = {} if name is None else {"name": name}
        return self.add("llm.response", {"model": "gpt-4o", "usage": {"input_tokens": 10}, **payload}, **speaker)

    def answer(self, content: str = "Here is the answer.") -> int:
        return self.llm(content=content, finish_reason="stop")

    def nav(self, url: str = "https://example.com", **payload: Any) -> int:
        return self.add("browser.navigation", {"url": url, **payload})

    def act(self, action: str = "click", **payload: Any) -> int:
        return self.add("browser.action", {"action": action, **payload})

    def log(self, message: str, level: str = "info") -> int:
        return self.add("log", {"level": level, "message": message})

    def error(self, message: str, parent_seq: int | None = None, **payload: Any) -> int:
        if parent_seq is None:
            return self.add("error", {"message": message, **payload})
        return self.add("error", {"message": message, **payload}, parent_seq=parent_seq)

    def check(self, passed: bool, **payload: Any) -> int:
        return self.add("assertion", {"passed": passed, **payload})

    def labels(self) -> dict[str, dict[str, Any]]:
        """The unrecovered findings, the first of each label."""
        return labels_of(self.events)

    def recovered(self) -> dict[str, dict[str, Any]]:
        """The recovered findings, the first of each label."""
        return labels_of(self.events, recovered=True)

    def analysis(self) -> dict[str, Any]:
        return analyze(self.events)


def labels_of(events: list[dict[str, Any]], recovered: bool = False) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for entry in analyze(events)["labels"]:
        if entry["recovered"] is recovered:
            found.setdefault(entry["label"], entry)
    return found
