"""The console on a long session: how fast it opens at the critical step, pages and searches.

    python -m bench.console

Against a real `agentdeck serve` (bench.common) with one session of BENCH_EVENTS events (100,000)
whose one failure sits BENCH_TAIL events (1,000) before the end, in headless Debian chromium:
- open: from navigating to the session to its critical step selected (one page of 500 read),
  timed in the page;
- earlier: one "Load earlier events" (the window grows by 500), timed in the page;
- search: a text search over the whole session (ranges of 5,000, 4 at a time) until it is done.
Each is the median of BENCH_REPEAT (3) runs. Record results in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import time
import uuid

import asyncpg
import httpx
from playwright.sync_api import sync_playwright

from api import admin
from api.auth import mint_token
from api.config import load_settings
from bench.common import bench_target
from tests.support.ensure_chromium import CHROMIUM

EVENTS = int(os.environ.get("BENCH_EVENTS", "100000"))
TAIL = int(os.environ.get("BENCH_TAIL", "1000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
TRACE = "bench-console-long"
# Timed inside the page (performance.now, checked every animation frame): navigate or click, then
# wait until `count` elements match.
TIMED = """async ([hash, click, selector, count]) => {
  const started = performance.now();
  if (hash) location.hash = hash; else document.querySelector(click).click();
  await new Promise((done) => {
    const check = () => (document.querySelectorAll(selector).length >= count ? done() : requestAnimationFrame(check));
    check();
  });
  return performance.now() - started;
}"""


def seed(base_url: str, key: str) -> int:
    failure = EVENTS - TAIL
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
        http.post("/api/traces", json={"id": TRACE, "name": "long run"}).raise_for_status()
        for first in range(1, EVENTS + 1, 1000):
            events = [{"seq": s, "type": "log", "payload": {"level": "info", "message": f"poll {s}"}}
                      for s in range(first, min(first + 1000, EVENTS + 1))]
            if first <= failure < first + 1000:
                events[failure - first] = {"seq": failure, "type": "tool.result", "payload": {
                    "tool": "deploy", "status": "error",
                    "error": {"type": "PermissionDenied", "code": 403, "message": "403 Forbidden: deploy"}}}
            http.post(f"/api/traces/{TRACE}/events", json={"events": events}).raise_for_status()
        analysis = http.post(f"/api/traces/{TRACE}/analyze").json()
    seq: int = analysis["critical_step"]["seq"]
    return seq


async def add_member(database_url: str, workspace_id: str, user: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await admin.add_member(conn, workspace_id, user, "member")
    finally:
        await conn.close()


def main() -> None:
    secret = secrets.token_urlsafe(40)
    user = str(uuid.uuid4())
    with bench_target(AGENTDECK_JWT_SECRET=secret, AGENTDECK_WORKER="0") as target:
        asyncio.run(add_member(target.database_url, target.workspace_id, user))
        token = mint_token(load_settings({"AGENTDECK_JWT_SECRET": secret}), user, 3600)
        started = time.perf_counter()
        critical = seed(target.base_url, target.key)
        print(f"seeded {EVENTS} events and analysed them in {time.perf_counter() - started:.1f} s")
        opens, earlier, search = [], [], []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            for _ in range(REPEAT):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(f"{target.base_url}/console")
                page.get_by_label("Console token (JWT)").fill(token)
                page.get_by_role("button", name="Sign in").click()
                page.locator("#nav").wait_for()
                opens.append(page.evaluate(TIMED, [f"#/session/{TRACE}", None,
                                                   f".timeline li[aria-selected='true'][data-seq='{critical}']", 1]))
                earlier.append(page.evaluate(TIMED, [None, ".pager", ".timeline li[data-seq]", 1000]))
                t0 = time.perf_counter()
                page.get_by_label("Search the trace").fill("403 forbidden")
                page.get_by_role("button", name="Search").click()
                page.get_by_text("1 match ·").wait_for(timeout=120_000)
                search.append((time.perf_counter() - t0) * 1000)
                page.close()
            browser.close()
    for name, values in (("open at critical step", opens), ("load earlier (500)", earlier),
                         (f"search {EVENTS} events", search)):
        runs = ", ".join(f"{v:.0f}" for v in values)
        print(f"{name}: median {statistics.median(values):.0f} ms (runs: {runs})")


if __name__ == "__main__":
    main()
