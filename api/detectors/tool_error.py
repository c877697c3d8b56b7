"""tool_error — a tool call failed and the agent never got that tool to work again.

Rule: a tool.result with `status: "error"` (or an `error` object and no ok status), an `error`
event whose parent is a tool event, or an ok result whose output is an error string (its first
line starts with `Error:`/`Exception`/`Failed`, or says `Error executing tool`, `403 Client Error`,
...: see inline_failures); recovered by a later clean result of the same tool (status ok, no
stack trace, exit code 0 or absent, no error string). Cause: the decision that issued the call.
- STRONG: the error names a type, a code or a status.
- MEDIUM: only a message (or nothing) accompanies the error status; an error string in ok output.
A tool result that is ok but prints a traceback or exits non-zero is code_execution_error, not this.
"""

from __future__ import annotations

from api.detectors.finding import MEDIUM, STRONG, Match
from api.detectors.signals import ErrorSite
from api.detectors.site_rules import SiteDetector


class ToolError(SiteDetector):
    label = "tool_error"

    def match(self, site: ErrorSite) -> Match | None:
        if not site.channel.startswith("tool:"):
            return None
        if not site.failed:
            if site.inline != "error_text":
                return None
            return self.site_match(site, MEDIUM, "error_text", site.message, "tool returned an error")
        if site.error_type or site.code or site.status is not None:
            basis, matched = "error", site.error_type or site.code or site.status
            return self.site_match(site, STRONG, basis, matched, "tool failed")
        return self.site_match(site, MEDIUM, "status", "error", "tool failed")
