"""timeout — an operation ran out of time (a timeout, a deadline, a gateway timeout).

Rule: an unrecovered error site that reports a timeout.
- STRONG: status 408 or 504; exception type like TimeoutError, ReadTimeout, APITimeoutError,
  TimeoutExpired, DeadlineExceeded; code timeout, ETIMEDOUT, DEADLINE_EXCEEDED, ...
- MEDIUM: exit code 124 (coreutils `timeout`); 408/504 written as a status in the message;
  "Gateway Timeout", "deadline exceeded", "timed out after", "Timeout 30000ms exceeded".
- WEAK: "timed out", "timeout", "deadline" in the message.
"""

from __future__ import annotations

from api.detectors.site_rules import CauseDetector, CauseRule, pattern, status_in_text


class Timeout(CauseDetector):
    label = "timeout"
    summary = "timed out"
    rule = CauseRule(
        statuses=frozenset({408, 504}),
        error_types=pattern(r"Time[\s_-]?out|TimedOut|DeadlineExceeded"),
        codes=frozenset(
            {
                "timeout",
                "timed_out",
                "etimedout",
                "esockettimedout",
                "deadline_exceeded",
                "request_timeout",
                "gateway_timeout",
            }
        ),
        exit_codes=frozenset({124}),
        phrases=pattern(
            status_in_text(408, 504)
            + r"|gateway time-?out|deadline exceeded|timed out after|timeout (?:of )?\d+ ?m?s\b(?: exceeded)?"
        ),
        keywords=pattern(r"timed?[\s_-]?out|deadline"),
    )
