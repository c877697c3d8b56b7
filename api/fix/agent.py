"""The fix agent of one API process: picks the runner for a project and bounds it by the budget."""

from __future__ import annotations

import asyncio
import time

import httpx

from api.config import FixSettings, RepositorySettings
from api.fix.context import FixContext
from api.fix.github import GitHubApp, GitHubRepository, load_app_key
from api.fix.model import ChatModel
from api.fix.outcome import Fallback, FixOutcome
from api.fix.repository import LocalRepository, Repository
from api.fix.runner import FixAgentRunner, ModelRunner, RulesRunner

# Kept from the budget for storing the outcome, so the request answers within it.
FINISH_RESERVE_SECONDS = 1.0


class FixAgent:
    def __init__(self, settings: FixSettings) -> None:
        self.settings = settings
        key = load_app_key(settings.github_private_key) if settings.github_private_key is not None else None
        self.http = httpx.AsyncClient(limits=httpx.Limits(max_connections=50), timeout=settings.budget_seconds)
        self.github = None
        if settings.github_app_id is not None and key is not None:
            self.github = GitHubApp(self.http, settings.github_api_url, settings.github_app_id, key)

    @property
    def runner_name(self) -> str:
        """The runner dispatched for every project: model when one is configured, else rules."""
        return "model" if self.settings.model_configured else "rules"

    def _repository(self, settings: RepositorySettings | None) -> Repository | None:
        if settings is None:
            return None
        if settings.github is not None:
            assert self.github is not None  # configuration refuses github repositories without an app
            return GitHubRepository(self.github, self.http, settings.github)
        assert settings.local_path is not None
        return LocalRepository(settings.local_path)

    def runner_for(self, project_id: str) -> FixAgentRunner:
        s = self.settings
        if s.model_base_url is None or s.model is None:
            return RulesRunner(Fallback("no_model_configured", (
                "no model is configured (AGENTDECK_FIX_MODEL_BASE_URL, AGENTDECK_FIX_MODEL): "
                "this is the deterministic plan")))
        model = ChatModel(self.http, s.model_base_url, s.model, s.model_api_key, max_tokens=s.max_tokens,
                          max_response_bytes=s.max_response_bytes)
        repository_settings = s.repositories.get(project_id)
        return ModelRunner(model, self._repository(repository_settings), repository_settings, s)

    async def run(self, runner: FixAgentRunner, context: FixContext, request_started: float) -> FixOutcome:
        """The runner's outcome, by the budget counted from `request_started` (event-loop time)."""
        started = time.monotonic()
        budget = max(0.5, self.settings.budget_seconds - FINISH_RESERVE_SECONDS)
        deadline = request_started + budget
        try:
            async with asyncio.timeout_at(deadline):
                outcome = await runner.run(context, deadline)
        except TimeoutError:
            outcome = runner.timed_out(context, f"the fix run did not finish within its budget of {budget:.0f}s")
        outcome.timings["total"] = round((time.monotonic() - started) * 1000)
        return outcome

    async def close(self) -> None:
        await self.http.aclose()
