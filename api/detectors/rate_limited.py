"""rate_limited — the agent was throttled and never got through.

Rule: an error site (tool result, model response, navigation, error event, session end) that
says rate limit or overload, not followed by a recovery on its channel nor a successful session.
- STRONG: status 429 or 529; exception type like RateLimitError, TooManyRequests, Throttling,
  Overloaded, ResourceExhausted; code rate_limit_exceeded, overloaded_error, insufficient_quota, ...
- MEDIUM: 429/529 written as a status in the message (`Error code: 429`, `429 Too Many Requests`)
  or "too many requests".
- WEAK: "rate limit", "throttled", "overloaded", "quota exceeded" in the message.
"""

from __future__ import annotations

from api.detectors.site_rules import CauseDetector, CauseRule, pattern, status_in_text


class RateLimited(CauseDetector):
    label = "rate_limited"
    summary = "rate limited"
    rule = CauseRule(
        statuses=frozenset({429, 529}),
        error_types=pattern(r"RateLimit|TooManyRequests|Throttl|Overloaded|ResourceExhausted|QuotaExceeded"),
        codes=frozenset(
            {
                "rate_limit_exceeded",
                "rate_limit_error",
                "rate_limited",
                "ratelimited",
                "overloaded_error",
                "overloaded",
                "too_many_requests",
                "throttlingexception",
                "throttled",
                "resource_exhausted",
                "insufficient_quota",
            }
        ),
        phrases=pattern(status_in_text(429, 529) + r"|too many requests"),
        keywords=pattern(r"rate[\s_-]?limit|throttl|overloaded|quota exceeded|exceeded your current quota"),
    )
