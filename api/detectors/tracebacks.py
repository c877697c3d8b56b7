"""Recognising stack traces in tool output: Python, smolagents, JavaScript, Java, Go and Rust.

A trace is recognised by its header or frame lines, never by a word alone; the exception type and
message come from the last exception line after the header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EXCEPTION_LINE = re.compile(
    r"^(?P<type>(?:[A-Za-z_][\w.]*)?(?:Error|Exception|Exit|Interrupt|Iteration|Timeout|Expired|Failure))"
    r"(?::[ \t]*(?P<message>[^\r\n]*))?[ \t]*$",
    re.MULTILINE,
)
_PYTHON_HEADER = re.compile(r"Traceback \(most recent call last\):")
_SMOLAGENTS = re.compile(
    r"Code execution failed[^\r\n]*?due to:\s*(?P<type>[A-Za-z_][\w.]*)(?::[ \t]*(?P<message>[^\r\n]*))?"
)
_JAVA = re.compile(r'Exception in thread "[^"\r\n]*" (?P<type>[\w.$]+)(?::[ \t]*(?P<message>[^\r\n]*))?')
_JS_FRAME = re.compile(r"^[ \t]+at [^\r\n]*:\d+:\d+\)?[ \t]*$", re.MULTILINE)
_GO_PANIC = re.compile(r"^panic: (?P<message>[^\r\n]*)$(?=[\s\S]*^goroutine \d+ \[)", re.MULTILINE)
_RUST_PANIC = re.compile(r"thread '[^'\r\n]*' panicked at (?P<message>[^\r\n]*)")


@dataclass(frozen=True, slots=True)
class Traceback:
    language: str
    exception_type: str | None
    message: str | None


def find_traceback(text: str) -> Traceback | None:
    """The stack trace in `text`, if there is one."""
    header = _PYTHON_HEADER.search(text)
    if header is not None:
        return _with_last_exception("python", text[header.end() :])
    smol = _SMOLAGENTS.search(text)
    if smol is not None:
        return Traceback("python", smol.group("type"), smol.group("message"))
    java = _JAVA.search(text)
    if java is not None:
        return Traceback("java", java.group("type"), java.group("message"))
    frame = _JS_FRAME.search(text)
    if frame is not None:
        return _with_last_exception("javascript", text[: frame.start()])
    go = _GO_PANIC.search(text)
    if go is not None:
        return Traceback("go", "panic", go.group("message"))
    rust = _RUST_PANIC.search(text)
    if rust is not None:
        return Traceback("rust", "panic", rust.group("message"))
    return None


def _with_last_exception(language: str, text: str) -> Traceback:
    last = None
    for last in _EXCEPTION_LINE.finditer(text):  # noqa: B007 - the last match is the raised one
        pass
    if last is None:
        return Traceback(language, None, None)
    return Traceback(language, last.group("type"), last.group("message"))
