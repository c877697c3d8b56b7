"""tool_error — a tool call failed and the agent never got that tool to work again.

Rule: a tool.result with `status: "error"` (or an `error` object and no ok status), or an `error`
event whose parent is a tool event, that is not followed by a clean result of the same tool (status
ok, no stack trace, exit code 0 or absent) nor by the session's success.
- STRONG: the error names a type, a code or a status.
- MEDIUM: only a message (or nothing) accompanies the error status.
A tool result that is ok but prints a traceback or exits non-zero is code_execution_error, not this.
"""

from __future__ import annotations

from api.detectors.finding import MEDIUM, STRONG, Match
from api.detectors.signals import ErrorSite
from api.detectors.site_rules import SiteDetector


class ToolError(SiteDetector):
    label = "tool_error"

    def match(self, site: ErrorSite) -> Match | None:
        if not site.failed or not site.channel.startswith("tool:"):
            return None
        if site.error_type or site.code or site.status is not None:
            basis, matched = "error", site.error_type or site.code or site.status
            return self.site_match(site, STRONG, basis, matched, "tool failed")
        return self.site_match(site, MEDIUM, "status", "error", "tool failed")
