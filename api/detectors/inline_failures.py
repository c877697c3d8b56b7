"""Failures that arrive inside "ok" results: what frameworks and services print when they fail.

A tool or an agent can report success and still hand back a failure as text. These are the
shapes read here, each taken from how the framework or service writes it:

- an executor's exit status: AutoGen's code executors answer `exitcode: 1 (execution failed)`
  followed by `Code output:`, Magentic-One's terminal `The script ran, then exited with an error
  (POSIX exit code: 1)` (a non-zero exit code; the traceback, if any, is read separately);
- an HTTP error page delivered as page content: a title or first line such as `404 Not Found`,
  `Error 403`, `403 Forbidden`, `Access Denied`, `Page not found`, Chrome's `This site can't be
  reached` / `net::ERR_…`, and bot checks (`Just a moment...`, `Attention Required! | Cloudflare`,
  `verify you are human`, `unusual traffic`, CAPTCHA) — looked for only in what a page report
  starts with (its title, the first lines), never deep in the body;
- a framework telling the model its output could not be parsed: smolagents' `Error in code
  parsing` and "regex pattern ... was not found", LangChain's `Could not parse LLM output` and
  `Invalid Format: Missing 'Action:'`, "no code block found", "missing closing tag", "invalid
  JSON in tool call", ...;
- an error string as a tool's output: the first line starts with `Error`/`Exception`/`Failed`
  (LangGraph's ToolNode answers `Error: ValueError(...)\\n Please fix your mistakes.`), or names a
  failure the way libraries print one (smolagents' `Error executing tool ...`, requests' `403
  Client Error: Forbidden for url`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEAD = 1200  # where a framework's complaint or a tool's error line is
_TITLE = 300  # an error page says so in its title and first lines, not deep in its body
_TITLE_LINE = 120
_CODE_CHARS = re.compile(r"[=(){};\t]|\.py:|\.js:")

# AutoGen's executors: `exitcode: 1 (execution failed)`; Magentic-One's ComputerTerminal: `The script
# ran, then exited with an error (POSIX exit code: 1)`.
_EXIT_STATUS = re.compile(
    r"^\s*exitcode:\s*(-?\d+)\s*\(execution (?:failed|succeeded)\)"
    r"|^\s*the script ran,? (?:but|then) exited with [^\r\n(]{0,40}\(POSIX exit code:\s*(-?\d+)\)",
    re.IGNORECASE,
)

# A page report: Magentic-One's web surfer ("Here is a screenshot of [title](url)", "The viewport
# shows"), its markdown browser ("Address: …\nTitle: …", "Viewport position:"), or a result that
# names its page title.
_PAGE_REPORT = re.compile(
    r"screenshot of \[|viewport (?:shows|position)|^Title:|^Address: \w+://|automatic OCR of the page"
    r"|metadata was extracted from the webpage",
    re.IGNORECASE | re.MULTILINE,
)
_PAGE_MARKERS = ("creenshot of", "iewport", "Title:", "Address:", "OCR", "metadata was")
_PAGE_TITLE = re.compile(r"screenshot of \[(?P<a>[^\]\r\n]{0,200})\]|^Title:[ \t]*(?P<b>[^\r\n]{0,200})", re.MULTILINE)
_PAGE_TEXT = re.compile(r"(?:has detected the following text:|=====+)\s*", re.IGNORECASE)
_ERROR_PAGE = re.compile(
    r"\b(?:error|http(?: error)?)\s*(?:code\s*)?:?\s*(?P<s1>4\d\d|5\d\d)\b"
    r"|\b(?P<s2>4\d\d|5\d\d)\s*[-:|]?\s*(?:not found|forbidden|unauthori[sz]ed|too many requests|gone"
    r"|internal server error|bad gateway|service (?:temporarily )?unavailable|gateway time-?out)\b"
    r"|\b(?P<denied>access denied|page not found|this page (?:isn['’]t|is not) available"
    r"|this site can['’]t be reached|net::ERR_[A-Z_]+|err_name_not_resolved|err_connection_\w+)"
    r"|(?P<bot>just a moment\.\.\.|attention required!?\s*\|\s*cloudflare|verify (?:that )?you are (?:a )?human"
    r"|are you a robot|unusual traffic from your (?:computer )?network|\bcaptcha\b|checking your browser"
    r"|you have been blocked|request blocked|enable javascript and cookies to continue)",
    re.IGNORECASE,
)
_STATUS_WORDS = {
    "not found": 404, "access denied": 403, "page not found": 404,
}  # fmt: skip

# Matched against lower-cased text (faster than IGNORECASE over every ok output).
PARSE_COMPLAINT = re.compile(
    r"error in code parsing|regex pattern[^\r\n]{0,80}was not found|your code snippet is invalid"
    r"|could not parse (?:llm |model )?output|invalid format:\s*missing"
    r"|failed to parse (?:the )?(?:model|llm|tool call|output|response|action)"
    r"|error (?:while )?parsing (?:the )?(?:tool call|output|response|action)"
    r"|no (?:valid )?code (?:block|blob|snippet)s? (?:was |were )?found|missing (?:required )?closing tag"
    r"|invalid json (?:in|for) (?:the )?tool call"
    r"|output(?:ted)? (?:was|is) not (?:in )?(?:valid|the expected) (?:json|format)"
    r"|outputparserexception|agentparsingerror"
)
_PARSE_WORDS = ("pars", "pattern", "snippet", "code b", "closing tag", "json", "format")


def parse_complaint(text: str) -> re.Match[str] | None:
    """A framework's complaint that it could not parse the model's output, in `text`'s head."""
    head = text[:_HEAD].lower()
    if not any(word in head for word in _PARSE_WORDS):
        return None
    return PARSE_COMPLAINT.search(head)


_ERROR_LINE = re.compile(
    r"^\W{0,3}(?:error|exception|failed|failure|fatal)\b\s*[:!-]"
    r"|error (?:executing|when executing|in|while calling|calling) tool|error in tool call|error fetching"
    r"|\b\d{3} (?:client|server) error\b|^\W{0,3}(?:tool )?execution failed",
    re.IGNORECASE,
)


# smolagents prints tool output under `Execution logs:`, AutoGen after `Code output:`, Magentic-One's
# terminal after `Its output was:`.
_HEADER = re.compile(
    r"^\s*(?:execution logs|code output|its output was|observation|output|stdout|result)s?:", re.IGNORECASE
)


_AGENT_FAILURE = re.compile(r"\s*(?:web surfing error\b|traceback \(most recent call last\):)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class InlineFailure:
    kind: str  # exit_status | error_page | parse_complaint | error_text | agent_error
    message: str  # the line that says so
    exit_code: int | None = None
    status: int | None = None


def executor_exit_code(text: str) -> int | None:
    """The exit code of an executor's `exitcode: N (...)` status line, if the text starts with one."""
    head = text[:200]
    if "exit" not in head:  # both shapes say "exitcode" / "exited"; cheap before the regex
        return None
    found = _EXIT_STATUS.match(head)
    return int(found.group(1) or found.group(2)) if found else None


def failure_in_output(text: str) -> InlineFailure | None:
    """A failure reported inside a tool's ok output (an exit status is read by `executor_exit_code`)."""
    head = text[:_HEAD]
    # A complaint is the observation itself, said at the start of a line — not a quote inside a file.
    complaint = parse_complaint(head[:_TITLE])
    if complaint is not None:
        before = head[head.rfind("\n", 0, complaint.start()) + 1 : complaint.start()]
        if len(before) <= 16 and not _CODE_CHARS.search(before):
            return InlineFailure("parse_complaint", _line_at(head, complaint.start()))
    first = _first_line(head)
    # A page's title: not search results listing "HTTP 404" pages, nor a code line quoting "Access denied".
    page = error_page(first) if len(first) <= _TITLE_LINE and not _CODE_CHARS.search(first) else None
    if page is not None:
        return page
    if _ERROR_LINE.search(first):
        return InlineFailure("error_text", first)
    return None


def failure_in_agent_report(text: str) -> InlineFailure | None:
    """An agent turn that opens by reporting its own failure: Magentic-One's web surfer answers
    `Web surfing error:` and the traceback when a browser action raises."""
    head = text[:200]
    if "rror" not in head and "raceback" not in head:
        return None
    found = _AGENT_FAILURE.match(head)
    return InlineFailure("agent_error", _first_line(text)) if found else None


def failure_in_page_report(text: str) -> InlineFailure | None:
    """An error page in an agent's report of the page it is on (only when the text is such a report)."""
    head = text[: _HEAD * 2]
    if not any(marker in head for marker in _PAGE_MARKERS) or not _PAGE_REPORT.search(head):
        return None
    title = _PAGE_TITLE.search(head)
    if title is not None:
        page = error_page(title.group("a") or title.group("b") or "")
        if page is not None:
            return page
    body = _PAGE_TEXT.search(head)
    return error_page(head[body.end() : body.end() + _TITLE]) if body is not None else None


def error_page(head: str) -> InlineFailure | None:
    found = _ERROR_PAGE.search(head)
    if found is None:
        return None
    status = found.group("s1") or found.group("s2")
    code = int(status) if status else None
    denied = found.group("denied")
    if code is None and denied:
        code = _STATUS_WORDS.get(denied.lower())
    return InlineFailure("error_page", _line_at(head, found.start()), status=code)


def _first_line(text: str) -> str:
    """The first line that says something: blank lines, exit status lines and headers (`Execution logs:`,
    `Code output:`) skipped."""
    for line in text.splitlines():
        if _EXIT_STATUS.match(line):
            continue
        said = _HEADER.sub("", line, count=1).strip()
        if said:
            return said[:500]
    return ""


def _line_at(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return text[start : end if end >= 0 else len(text)].strip()[:500]
