"""server_error — a service the agent depends on failed on its side (5xx) and did not come back.

Rule: an unrecovered error site that reports a server-side failure. 504 belongs to timeout and
529 (overloaded) to rate_limited; both are excluded here.
- STRONG: status 500–599 except 504 and 529; exception type like InternalServerError,
  ServiceUnavailable, BadGateway, ServerError; code server_error, internal_error,
  service_unavailable, api_error, UNAVAILABLE, ...
- MEDIUM: 500/502/503 written as a status in the message; "Internal Server Error",
  "Service Unavailable", "Bad Gateway".
- WEAK: "server error", "temporarily unavailable", "upstream error", "try again later".
"""

from __future__ import annotations

from api.detectors.site_rules import CauseDetector, CauseRule, pattern, status_in_text


class ServerError(CauseDetector):
    label = "server_error"
    summary = "server error"
    rule = CauseRule(
        statuses=frozenset(range(500, 600)) - {504, 529},
        error_types=pattern(r"InternalServerError|ServiceUnavailable|BadGateway|ServerError|InternalError"),
        codes=frozenset(
            {
                "server_error",
                "internal_server_error",
                "internal_error",
                "service_unavailable",
                "serviceunavailable",
                "bad_gateway",
                "api_error",
                "internal",
                "unavailable",
                "internalfailure",
            }
        ),
        phrases=pattern(
            status_in_text(500, 502, 503)
            + r"|internal server error|service (?:is )?(?:temporarily )?unavailable|bad gateway"
        ),
        keywords=pattern(r"server error|temporarily unavailable|upstream (?:connect )?error|try again later"),
    )
