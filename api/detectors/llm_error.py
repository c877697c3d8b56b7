"""llm_error — a model call failed and no later model call succeeded.

Rule: an llm.response with an `error` (or finish_reason `error` /
`model_context_window_exceeded`), or an `error` event whose parent is an llm event, not followed by
an llm.response without an error nor by the session's success.
- STRONG: the error names a type, a code or a status.
- MEDIUM: only a message.
A 429 that the agent retries successfully is reported recovered. A framework's complaint that the
response could not be parsed is malformed_output, not a failed call.
"""

from __future__ import annotations

from api.detectors.finding import MEDIUM, STRONG, Match
from api.detectors.signals import ErrorSite
from api.detectors.site_rules import SiteDetector


class LlmError(SiteDetector):
    label = "llm_error"

    def match(self, site: ErrorSite) -> Match | None:
        if site.channel != "llm" or site.inline == "parse_complaint":  # the call worked; its output did not parse
            return None
        if site.error_type or site.code or site.status is not None:
            matched = site.error_type or site.code or site.status
            return self.site_match(site, STRONG, "error", matched, "model call failed")
        return self.site_match(site, MEDIUM, "message", site.message, "model call failed")
