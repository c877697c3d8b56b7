"""`FixAgentRunner` and its two runners.

`rules` is pure: the deterministic plan, with the fallback that says why no model was asked.
`model` reads the repository at a pinned commit, asks the model, and returns its diff only when
the diff applies there (and the configured checks pass); every failure on the way becomes a
labelled fallback carrying the rules plan, never an exception.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from api.config import FixSettings, RepositorySettings
from api.fix.answer import extract_diff, extract_plan
from api.fix.checks import run_check
from api.fix.context import FixContext
from api.fix.files import choose_files
from api.fix.model import ChatModel, ModelError, ModelTimeout
from api.fix.outcome import Fallback, FallbackLabel, FixOutcome
from api.fix.prompt import build_messages
from api.fix.repository import Repository, RepositoryError
from api.fix.rules import rules_plan
from api.fix.validate import InvalidDiff, check_applies


class FixAgentRunner(ABC):
    name: ClassVar[str]

    @abstractmethod
    async def run(self, context: FixContext, deadline: float) -> FixOutcome:
        """The outcome by `deadline` (event-loop time); model and repository failures are fallbacks."""

    @abstractmethod
    def timed_out(self, context: FixContext, reason: str) -> FixOutcome:
        """What to answer when the budget ran out mid-run: what is known so far, as a `timeout` fallback."""


class RulesRunner(FixAgentRunner):
    name = "rules"

    def __init__(self, fallback: Fallback) -> None:
        self.fallback = fallback

    async def run(self, context: FixContext, deadline: float) -> FixOutcome:
        return FixOutcome(plan=rules_plan(context), fallback=self.fallback)

    def timed_out(self, context: FixContext, reason: str) -> FixOutcome:
        return FixOutcome(plan=rules_plan(context), fallback=Fallback("timeout", reason))


class ModelRunner(FixAgentRunner):
    name = "model"

    def __init__(self, model: ChatModel, repository: Repository | None, repository_settings: RepositorySettings | None,
                 limits: FixSettings) -> None:
        self.model = model
        self.repository = repository
        self.repository_settings = repository_settings
        self.limits = limits
        self._progress: FixOutcome | None = None

    def _fallback(self, outcome: FixOutcome, label: FallbackLabel, reason: str) -> FixOutcome:
        outcome.diff = None
        outcome.fallback = Fallback(label, reason)
        return outcome

    def timed_out(self, context: FixContext, reason: str) -> FixOutcome:
        progress = self._progress or FixOutcome(plan=rules_plan(context), model=self.model.model)
        return self._fallback(progress, "timeout", reason)

    async def run(self, context: FixContext, deadline: float) -> FixOutcome:
        rules = rules_plan(context)
        outcome = self._progress = FixOutcome(plan=rules, model=self.model.model)
        repository, settings = self.repository, self.repository_settings
        if repository is None or settings is None:
            return self._fallback(outcome, "no_repository", (
                f"project {context.incident['project_id']} has no repository configured "
                "(AGENTDECK_FIX_REPOSITORIES), so no diff can be validated"))
        outcome.repository = settings.display_name
        loop = asyncio.get_running_loop()
        with _timed(outcome, "repository"):
            try:
                base_sha = outcome.base_sha = await repository.resolve(settings.ref)
                tree = await repository.list_files(base_sha)
                files = await self._read_files(repository, base_sha, choose_files(context, tree, self.limits.max_files))
            except RepositoryError as exc:
                return self._fallback(outcome, "repository_unavailable", str(exc))
        outcome.files = list(files)
        with _timed(outcome, "model"):
            try:
                answer = await self.model.complete(build_messages(context, rules, files, base_sha),
                                                   time_limit=max(0.1, deadline - loop.time()))
            except ModelTimeout as exc:
                return self._fallback(outcome, "timeout", str(exc))
            except ModelError as exc:
                return self._fallback(outcome, "model_error", str(exc))
        diff = extract_diff(answer)
        if diff is None:
            return self._fallback(outcome, "no_diff", "the model's answer holds no unified diff")
        if len(diff.encode()) > self.limits.max_diff_bytes:
            return self._fallback(outcome, "diff_too_large", (
                f"the diff is {len(diff.encode())} bytes, over the limit of {self.limits.max_diff_bytes}"))
        with _timed(outcome, "validation"):
            try:
                await check_applies(repository, base_sha, diff, set(tree))
            except InvalidDiff as exc:
                return self._fallback(outcome, "invalid_diff", str(exc))
            except RepositoryError as exc:
                return self._fallback(outcome, "repository_unavailable", str(exc))
        if settings.check is not None:
            with _timed(outcome, "checks"):
                try:
                    outcome.checks = await run_check(repository, base_sha, diff, settings.check,
                                                     time_limit=max(0.1, deadline - loop.time()))
                except (InvalidDiff, RepositoryError) as exc:
                    return self._fallback(outcome, "checks_failed", f"the checks could not run: {exc}")
            if outcome.checks["status"] != "passed":
                return self._fallback(outcome, "checks_failed", (
                    f"the check command {outcome.checks['status']} (exit code {outcome.checks['exit_code']}) "
                    "with the diff applied"))
        changes = [{"step": "change", "text": text} for text in extract_plan(answer)]
        outcome.plan = rules[:2] + (changes or rules[2:3]) + rules[3:]
        outcome.diff = diff
        return outcome

    async def _read_files(self, repository: Repository, sha: str, paths: list[str]) -> dict[str, str]:
        files: dict[str, str] = {}
        total = 0
        for path in paths:
            content = await repository.read_file(sha, path, self.limits.max_file_bytes)
            if content is None or b"\0" in content[:8192]:
                continue  # too large, gone, or binary
            if total + len(content) > self.limits.max_context_bytes:
                break
            total += len(content)
            files[path] = content.decode("utf-8", errors="replace")
        return files


@contextmanager
def _timed(outcome: FixOutcome, phase: str) -> Iterator[None]:
    """Records the milliseconds spent in the block as outcome.timings[phase]."""
    started = time.monotonic()
    try:
        yield
    finally:
        outcome.timings[phase] = round((time.monotonic() - started) * 1000)
