"""navigation_error — the browser could not load a page or find the element it was asked to use.

Rule: a browser.navigation with an `error` or a status code >= 400, or a failed browser.action
(`status: "error"`), or an `error` event whose parent is a browser event, not followed by a
recovery: for a page load, a later successful navigation; for an action, a successful navigation
or an ok action that changed the page (screenshot/DOM digest differs, or no digest is given). An ok
action that leaves the page as it was does not recover (clicking around on a stalled page is not
handling the error). Also an error page delivered as ok content (a tool's output, or a web agent's
report of its page: `404 Not Found`, `Access Denied`, a bot check; see inline_failures), recovered
by the next clean output of that tool or report of that agent.
- STRONG: a navigation status >= 400 or a typed navigation error (net::ERR_...); a missing
  element by type (NoSuchElement, ElementNotFound, ...).
- MEDIUM: a navigation error message; a missing element by message ("element ... does not
  exist", "no node found for selector", "waiting for locator").
- WEAK: any other failed browser action.
- Error pages: MEDIUM (the page says so in its title or first lines); a web agent's turn that
  reports its own failure (Magentic-One's `Web surfing error:` with the traceback): MEDIUM.
"""

from __future__ import annotations

from api.detectors.finding import MEDIUM, STRONG, WEAK, Match
from api.detectors.signals import ErrorSite
from api.detectors.site_rules import SiteDetector, pattern

_ELEMENT_TYPES = pattern(r"NoSuchElement|ElementNotFound|ElementNotVisible|ElementNotInteractable|StaleElement")
_ELEMENT_TEXT = pattern(
    r"element[^\r\n]{0,60}(?:not found|does ?n[o']t exist|not visible|not interactable|detached|no longer)"
    r"|no (?:node|element)s? (?:found|matching)|waiting for (?:selector|locator)|selector[^\r\n]{0,40}(?:not found|"
    r"did not match|resolved to 0)|index \d+ does not exist"
)


class NavigationError(SiteDetector):
    label = "navigation_error"

    def match(self, site: ErrorSite) -> Match | None:
        if site.inline == "error_page":
            return self.site_match(site, MEDIUM, "error_page", site.message, "an error page came back as content")
        if site.inline == "agent_error":
            return self.site_match(site, MEDIUM, "agent_error", site.message, "the web agent's action failed")
        if site.channel not in ("navigation", "browser"):
            return None
        if site.source == "browser.navigation" or site.channel == "navigation":
            summary = "page failed to load"
            if site.status is not None and site.status >= 400:
                return self.site_match(site, STRONG, "status", site.status, summary)
            if site.error_type or site.code:
                return self.site_match(site, STRONG, "error", site.error_type or site.code, summary)
            return self.site_match(site, MEDIUM, "message", site.message, summary)
        summary = "browser action failed"
        if site.error_type and _ELEMENT_TYPES.search(site.error_type):
            return self.site_match(site, STRONG, "missing_element", site.error_type, summary)
        if found := _ELEMENT_TEXT.search(site.text):
            return self.site_match(site, MEDIUM, "missing_element", found.group(0), summary)
        return self.site_match(site, WEAK, "action_error", site.message, summary)
