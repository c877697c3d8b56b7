"""A pytest collector for pgTAP files: every assertion of tests/sql/*.sql becomes a pytest item.

A file runs once, when collected, through psql against the session's test database; each
`ok`/`not ok` line becomes an item that passes or fails with pgTAP's diagnostics, and a file
that errors or breaks its plan becomes a failing item of its own.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

_RESULT = re.compile(r"^(not )?ok (\d+)(?: - (.*))?$")
_PLAN = re.compile(r"^1\.\.(\d+)$")


@dataclass
class Assertion:
    number: int
    description: str
    passed: bool
    diagnostics: list[str] = field(default_factory=list)


def parse_tap(output: str) -> tuple[int | None, list[Assertion]]:
    planned: int | None = None
    results: list[Assertion] = []
    for line in output.splitlines():
        line = line.rstrip()
        if plan := _PLAN.match(line):
            planned = int(plan.group(1))
        elif result := _RESULT.match(line):
            results.append(Assertion(int(result.group(2)), result.group(3) or "", result.group(1) is None))
        elif line.startswith("#") and results:
            results[-1].diagnostics.append(line)
    return planned, results


class PgTapFailure(Exception):
    pass


class PgTapItem(pytest.Item):
    def __init__(self, *, passed: bool, report: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.passed = passed
        self.report = report

    def runtest(self) -> None:
        if not self.passed:
            raise PgTapFailure(self.report)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, PgTapFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name


class PgTapFile(pytest.File):
    def collect(self) -> Iterator[PgTapItem]:
        url: str = self.config.stash[DATABASE_URL_KEY]
        psql: str = self.config.stash[PSQL_KEY]
        run = subprocess.run(
            [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(self.path)],
            capture_output=True, text=True, timeout=300,
        )
        planned, results = parse_tap(run.stdout)
        for result in results:
            name = f"{result.number} - {result.description}"
            yield PgTapItem.from_parent(self, name=name, passed=result.passed,
                                        report="\n".join([f"not ok {name}", *result.diagnostics]))
        problems = []
        if run.returncode != 0:
            problems.append(f"psql exited {run.returncode}:\n{run.stderr.strip()}")
        if planned is None:
            problems.append("no plan was output")
        elif planned != len(results):
            problems.append(f"planned {planned} assertions, ran {len(results)}")
        if problems:
            yield PgTapItem.from_parent(self, name="plan", passed=False, report="\n".join(problems))


DATABASE_URL_KEY = pytest.StashKey[str]()
PSQL_KEY = pytest.StashKey[str]()
