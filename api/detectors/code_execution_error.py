"""code_execution_error — code the agent ran crashed (a stack trace) or exited non-zero.

Rule: a tool.result (or an executor's turn in a group chat) whose output or error holds a stack
trace — Python `Traceback (most recent call last)`, smolagents "Code execution failed ... due to",
JavaScript `at f (file:1:2)` frames, Java `Exception in thread`, Go and Rust panics — or whose exit
code is non-zero (`exit_code`, or AutoGen's `exitcode: 1 (execution failed)`), or an `error` event
with smolagents' "Code execution failed ... due to: X" (how it reports a step whose code raised);
recovered by a later
clean result of the same tool (status ok, no trace, exit code 0 or absent). Cause: the turn that
wrote the code (the call's decision; in a group chat, the latest turn of another agent with a
code block).
- STRONG: a stack trace with a recognisable exception type.
- MEDIUM: a stack trace without one.
- WEAK: a non-zero exit code alone (grep exiting 1 is not always a crash).
"""

from __future__ import annotations

from api.detectors.finding import MEDIUM, STRONG, WEAK, Match
from api.detectors.signals import ErrorSite
from api.detectors.site_rules import SiteDetector


class CodeExecutionError(SiteDetector):
    label = "code_execution_error"

    def match(self, site: ErrorSite) -> Match | None:
        summary = "code execution failed"
        ran_code = site.channel.startswith("tool:") or (site.source == "error" and site.channel != "llm")
        if site.traceback is not None and ran_code:
            if site.traceback.exception_type:
                return self.site_match(site, STRONG, "traceback", site.traceback.exception_type, summary)
            return self.site_match(site, MEDIUM, "traceback", site.traceback.language, summary)
        if site.exit_code is not None and site.exit_code != 0 and site.channel.startswith("tool:"):
            return self.site_match(site, WEAK, "exit_code", site.exit_code, summary)
        return None
