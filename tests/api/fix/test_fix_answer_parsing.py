"""Reading model answers: diffs in fences, in several fences, bare in prose, with miscounted hunks;
which files the model is shown; what is redacted before anything leaves the server."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from api.fix.answer import extract_diff, extract_plan
from api.fix.context import FixContext
from api.fix.files import choose_files
from api.fix.redact import redact
from api.fix.repository import LocalRepository
from api.fix.validate import InvalidDiff, check_applies, touched_paths
from tests.support.fix import buggy_repository

TWO_FILES = """I changed two files.

1. Fix the parser.
2. Document it.

```diff
--- a/calc/parse.py
+++ b/calc/parse.py
@@ -4,3 +4,3 @@
 def parse_amount(text):
     \"\"\"The amount in cents.\"\"\"
-    return int(text) * 100
+    return round(float(text) * 100)
```

and

```patch
diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1 +1,2 @@
 calc
+Amounts may have decimals.
```
That is all."""


def _apply_check(tmp_path: Path, diff: str) -> None:
    repo = tmp_path / "repo"
    repository = LocalRepository(repo)
    sha = buggy_repository(repo)
    files = asyncio.run(repository.list_files(sha))
    asyncio.run(check_applies(repository, sha, diff, set(files)))


def test_several_fenced_files_with_prose_around_make_one_diff_that_applies(tmp_path: Path) -> None:
    diff = extract_diff(TWO_FILES)
    assert diff is not None and touched_paths(diff) == ["calc/parse.py", "README.md"]
    assert extract_plan(TWO_FILES) == ["Fix the parser.", "Document it."]
    _apply_check(tmp_path, diff)


def test_a_bare_diff_in_prose_with_wrong_hunk_counts_is_recounted(tmp_path: Path) -> None:
    answer = ("Here you go:\n--- a/calc/parse.py\n+++ b/calc/parse.py\n@@ -4,9 +4,1 @@\n def parse_amount(text):\n"
              "     \"\"\"The amount in cents.\"\"\"\n-    return int(text) * 100\n+    return round(float(text) * 100)\n"
              "Hope this helps.")
    diff = extract_diff(answer)
    assert diff is not None and "@@ -4,3 +4,3 @@" in diff and "Hope" not in diff
    _apply_check(tmp_path, diff)


def test_a_blank_context_line_whose_space_was_trimmed_still_applies(tmp_path: Path) -> None:
    answer = ("```diff\n--- a/calc/parse.py\n+++ b/calc/parse.py\n@@ -2,5 +2,5 @@\n\n\n def parse_amount(text):\n"
              "     \"\"\"The amount in cents.\"\"\"\n-    return int(text) * 100\n+    return round(float(text) * 100)\n```")
    diff = extract_diff(answer)
    assert diff is not None and "@@ -2,5 +2,5 @@\n \n \n def" in diff
    _apply_check(tmp_path, diff)


def test_answers_without_a_diff_give_none() -> None:
    assert extract_diff("1. Retry the call.\n2. Add backoff.\n```python\nprint('x')\n```") is None
    assert extract_plan("1. Retry the call.\n- Add backoff.") == ["Retry the call.", "Add backoff."]


def test_paths_leaving_the_tree_are_refused_before_git_runs(tmp_path: Path) -> None:
    for path in ("../outside.py", "/etc/passwd", ".git/config"):
        diff = f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n"
        try:
            _apply_check(tmp_path / path.replace("/", "_"), diff)
        except InvalidDiff as exc:
            assert "outside the repository" in str(exc)
        else:
            raise AssertionError(f"{path} was accepted")


def test_files_come_from_the_traceback_then_declared_then_tool_names_bounded() -> None:
    context = FixContext.from_json({"fix_run_id": "fix_x", "incident": {"tool": "search"}, "sessions": [{
        "session_id": "s", "finding": None, "critical_step": None, "events": [
            {"seq": 1, "type": "session.start", "payload": {"files": ["config/agent.yaml"]}},
            {"seq": 2, "type": "tool.result", "payload": {"output": (
                'File "/srv/app/src/app/main.py", line 3, in <module>\n'
                'File "/srv/app/src/app/util.py", line 9, in helper')}},
        ]}]})
    paths = ["src/app/main.py", "src/app/util.py", "tools/search.py", "config/agent.yaml", "docs/main.py",
             "src/app/helper.py"]
    assert choose_files(context, paths, 10) == ["src/app/util.py", "src/app/main.py", "config/agent.yaml",
                                                "tools/search.py", "src/app/helper.py"]
    assert choose_files(context, paths, 2) == ["src/app/util.py", "src/app/main.py"]


def test_secrets_are_redacted_by_key_and_by_shape_and_sizes_capped() -> None:
    value = {"headers": {"Authorization": "Bearer abc.def.ghi", "X-Api-Key": "k-123"},
             "usage": {"input_tokens": 12},
             "note": "called with sk-abcdefghijklmnop1234 and ghs_" + "a" * 36,
             "url": "postgres://user:hunter2@db/x", "long": "y" * 5000}
    cleaned = redact(value, max_chars=100)
    text = str(cleaned)
    for secret in ("abc.def.ghi", "k-123", "sk-abcdefghijklmnop1234", "ghs_aaaa", "hunter2"):
        assert secret not in text
    assert cleaned["usage"] == {"input_tokens": 12}
    assert len(cleaned["long"]) < 200


def test_the_check_tree_is_clean_at_the_commit_not_the_working_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    sha = buggy_repository(repo)
    (repo / "calc" / "parse.py").write_text("uncommitted\n")  # a dirty checkout must not matter
    repository = LocalRepository(repo)
    assert asyncio.run(repository.resolve("main")) == sha
    assert b"int(text)" in (asyncio.run(repository.read_file(sha, "calc/parse.py", 10_000)) or b"")
    assert asyncio.run(repository.read_file(sha, "calc/parse.py", 10)) is None, "over the byte cap"
    assert subprocess.run(["git", "-C", str(repo), "status", "--short"], capture_output=True, text=True).stdout
