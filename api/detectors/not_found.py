"""not_found — a file, URL, model or other resource the agent needed did not exist.

Rule: an unrecovered error site that reports a missing resource. Browser element lookups belong to
navigation_error, and missing Python modules (ModuleNotFoundError, "No module named") to
code_execution_error; both are excluded.
- STRONG: status 404 or 410; exception type like FileNotFoundError, NotFound, NoSuchKey,
  DoesNotExist; code not_found, ENOENT, NoSuchKey, model_not_found, ...
- MEDIUM: exit code 127 (command not found); 404/410 written as a status in the message;
  "No such file or directory", "does not exist", "command not found".
- WEAK: "not found", "no such", "cannot find", "could not find".
A 404 the agent handles (a later clean result of the same tool, a later successful navigation) is
recovered and not reported.
"""

from __future__ import annotations

from api.detectors.finding import Match
from api.detectors.signals import ErrorSite
from api.detectors.site_rules import CauseDetector, CauseRule, pattern, status_in_text


class NotFound(CauseDetector):
    label = "not_found"
    summary = "resource not found"
    rule = CauseRule(
        statuses=frozenset({404, 410}),
        error_types=pattern(r"NotFound|NoSuch|DoesNotExist|ENOENT|MissingResource"),
        codes=frozenset(
            {
                "not_found",
                "notfound",
                "enoent",
                "nosuchkey",
                "nosuchbucket",
                "model_not_found",
                "resource_not_found",
                "file_not_found",
            }
        ),
        exit_codes=frozenset({127}),
        phrases=pattern(
            status_in_text(404, 410)
            + r"|no such file or directory|does ?n[o']t exist|command not found|cannot find the (?:file|path)"
        ),
        keywords=pattern(r"not found|no such|cannot find|could not find|can't find|unable to find"),
        excludes=pattern(r"ModuleNotFound|No module named|ImportError"),
    )

    def match(self, site: ErrorSite) -> Match | None:
        if site.channel == "browser":  # a missing element is a navigation_error
            return None
        return super().match(site)
