"""A Playwright page (sync or async API): navigations, actions and screenshots become events.

    from agentdeck.hooks.playwright import record
    record(page)  # into the current session, or `session=`

- `page.goto` → `browser.navigation {url, status_code}` (or `error` when it fails); navigations the
  page makes itself (a link, a redirect by script) → `browser.navigation {url, initiator: "page"}`.
- `click`, `dblclick`, `fill`, `type`, `press`, `check`, `uncheck`, `select_option`, `hover` →
  `browser.action {action, selector, status, error?, dom_digest, screenshot_digest?}`; a failed action
  is recorded and its exception re-raised.
- With `screenshots=True` (the default) a screenshot after every action and navigation is uploaded as
  an artifact (an `artifact` event) and its sha256 recorded as `screenshot_digest`, so the detectors
  can tell an action that changed nothing from one that did.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from typing import Any

from agentdeck.session import Session, current_session, error_payload

ACTIONS = ("click", "dblclick", "fill", "type", "press", "check", "uncheck", "select_option", "hover")


def record(page: Any, session: Session | None = None, *, screenshots: bool = True) -> Any:
    """Wrap `page`'s navigation and action methods; returns the page."""
    recorder = _Recorder(page, session, screenshots)
    asynchronous = inspect.iscoroutinefunction(page.goto)
    page.goto = (recorder.async_goto if asynchronous else recorder.goto)(page.goto)
    for action in ACTIONS:
        method = getattr(page, action)
        setattr(page, action, (recorder.async_action if asynchronous else recorder.action)(action, method))
    page.on("framenavigated", recorder.navigated)
    return page


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Recorder:
    def __init__(self, page: Any, session: Session | None, screenshots: bool) -> None:
        self.page = page
        self.session = session
        self.screenshots = screenshots
        self.in_goto = False
        self.last: Session | None = None

    def target(self) -> Session | None:
        found = self.session or current_session()
        if found is not None:
            self.last = found
        return found

    # --- sync API -----------------------------------------------------------------------------------------

    def goto(self, method: Any) -> Any:
        @functools.wraps(method)
        def goto(url: str, **kwargs: Any) -> Any:
            session = self.target()
            if session is None:
                return method(url, **kwargs)
            self.in_goto = True
            try:
                response = method(url, **kwargs)
            except Exception as exc:
                session.browser_navigation(url, error=error_payload(exc))
                raise
            finally:
                self.in_goto = False
            status = response.status if response is not None else None
            session.browser_navigation(self.page.url, status_code=status, **self._after(session))
            return response
        return goto

    def action(self, name: str, method: Any) -> Any:
        @functools.wraps(method)
        def act(selector: str, *args: Any, **kwargs: Any) -> Any:
            session = self.target()
            if session is None:
                return method(selector, *args, **kwargs)
            try:
                result = method(selector, *args, **kwargs)
            except Exception as exc:
                session.browser_action(name, selector=selector, status="error", error=error_payload(exc),
                                       **self._after(session))
                raise
            session.browser_action(name, selector=selector, status="ok", **self._after(session))
            return result
        return act

    def _after(self, session: Session) -> dict[str, Any]:
        fields: dict[str, Any] = {"dom_digest": _digest(self.page.content().encode())}
        if self.screenshots:
            image = self.page.screenshot()
            fields["screenshot_digest"] = _digest(image)
            session.artifact(image, kind="screenshot", content_type="image/png")
        return fields

    # --- async API ----------------------------------------------------------------------------------------

    def async_goto(self, method: Any) -> Any:
        @functools.wraps(method)
        async def goto(url: str, **kwargs: Any) -> Any:
            session = self.target()
            if session is None:
                return await method(url, **kwargs)
            self.in_goto = True
            try:
                response = await method(url, **kwargs)
            except Exception as exc:
                session.browser_navigation(url, error=error_payload(exc))
                raise
            finally:
                self.in_goto = False
            status = response.status if response is not None else None
            session.browser_navigation(self.page.url, status_code=status, **await self._async_after(session))
            return response
        return goto

    def async_action(self, name: str, method: Any) -> Any:
        @functools.wraps(method)
        async def act(selector: str, *args: Any, **kwargs: Any) -> Any:
            session = self.target()
            if session is None:
                return await method(selector, *args, **kwargs)
            try:
                result = await method(selector, *args, **kwargs)
            except Exception as exc:
                session.browser_action(name, selector=selector, status="error", error=error_payload(exc),
                                       **await self._async_after(session))
                raise
            session.browser_action(name, selector=selector, status="ok", **await self._async_after(session))
            return result
        return act

    async def _async_after(self, session: Session) -> dict[str, Any]:
        fields: dict[str, Any] = {"dom_digest": _digest((await self.page.content()).encode())}
        if self.screenshots:
            image = await self.page.screenshot()
            fields["screenshot_digest"] = _digest(image)
            session.artifact(image, kind="screenshot", content_type="image/png")
        return fields

    # --- navigations the page makes itself ----------------------------------------------------------------

    def navigated(self, frame: Any) -> None:
        # Playwright runs event handlers outside the caller's context: use the session of the last call.
        session = self.session or self.last
        if session is None or self.in_goto or frame != self.page.main_frame:
            return
        session.browser_navigation(frame.url, initiator="page")
