// Two sessions side by side, aligned by step, with the first divergence and each side's findings:
// the before/after view of a regression run.

import { api, ApiError } from "./api.js";
import { chip, errorNotice, h, notice, replace, sessionRoute } from "./dom.js";
import { isError, summary, toolOf } from "./events.js";

const MAX_STEPS = 5000;
// Heartbeat-like logs are not steps: they would misalign two runs that made the same decisions.
const NOT_A_STEP = new Set(["log"]);

async function loadSide(sessionId) {
  const sessions = await api("/api/sessions", { query: { session_id: sessionId, limit: 1 } });
  const session = sessions.sessions.find((s) => s.id === sessionId);
  if (!session) throw new ApiError(404, "trace_not_found", `session ${sessionId} not found`);
  const encoded = encodeURIComponent(sessionId);
  const query = { project_id: session.project_id };
  const [events, analysis] = await Promise.all([
    api(`/api/traces/${encoded}/events`, { query: { ...query, limit: MAX_STEPS } }),
    api(`/api/traces/${encoded}/analysis`, { query }).catch((error) => {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }),
  ]);
  return { session, analysis, steps: events.events.filter((e) => !NOT_A_STEP.has(e.type)), truncated: events.next_after_seq !== null };
}

/** What must match for two steps to count as the same step. */
function stepKey(event) {
  const p = event.payload || {};
  return JSON.stringify([event.type, toolOf(event), p.status ?? null, p.outcome ?? null, p.passed ?? null, isError(event)]);
}

export function firstDivergence(left, right) {
  const length = Math.max(left.length, right.length);
  for (let i = 0; i < length; i += 1) {
    if (!left[i] || !right[i] || stepKey(left[i]) !== stepKey(right[i])) return i;
  }
  return null;
}

function sideHead(side, title) {
  const step = side.analysis?.critical_step;
  return h("div", { class: "compare-side-head" },
    h("h3", {}, title, " ", h("a", { href: sessionRoute(side.session.id, side.session.project_id) }, side.session.name || side.session.id)),
    h("p", {}, chip(side.session.status, `status-${side.session.status}`),
      side.session.verdict || side.analysis?.verdict ? chip(side.session.verdict || side.analysis.verdict, "verdict") : null,
      ` ${side.steps.length} steps${side.truncated ? ` (first ${MAX_STEPS} events)` : ""}`),
    side.analysis
      ? h("ul", { class: "compare-findings" }, side.analysis.labels.length
        ? side.analysis.labels.map((l) => h("li", {}, chip(l.label, "label"), ` at #${l.critical_seq} — ${l.signature?.message ?? ""}`))
        : h("li", {}, "no findings"),
      step ? h("li", { class: "critical-line" }, `critical step #${step.seq}: ${step.reason}`) : null)
      : h("p", { class: "muted" }, "not analysed"));
}

function cell(side, event) {
  if (!event) return h("td", { class: "step missing" }, "—");
  const critical = side.analysis?.critical_step?.seq;
  return h("td", { class: `step${isError(event) ? " error" : ""}${event.seq === critical ? " failure" : ""}` },
    h("a", { class: "seq", href: sessionRoute(side.session.id, side.session.project_id, event.seq), title: "Open the replay here" }, `#${event.seq}`),
    " ", h("span", { class: "type" }, event.type), " ", summary(event));
}

export function renderCompare(root, { left: leftId, right: rightId }) {
  replace(root, notice("loading", "Loading both sessions…"));
  let disposed = false;
  Promise.all([loadSide(leftId), loadSide(rightId)]).then(([left, right]) => {
    if (disposed) return;
    const divergence = firstDivergence(left.steps, right.steps);
    const rows = [];
    const length = Math.max(left.steps.length, right.steps.length);
    for (let i = 0; i < length; i += 1) {
      rows.push(h("tr", { id: `step-${i}`, class: i === divergence ? "divergence" : i > (divergence ?? Infinity) ? "after-divergence" : "" },
        h("th", { scope: "row", class: "num" }, String(i + 1)),
        cell(left, left.steps[i]),
        cell(right, right.steps[i])));
    }
    const wrap = h("div", { class: "table-wrap compare-wrap" });
    const toDivergence = () => {
      const row = wrap.querySelector(`#step-${divergence}`);
      if (row) wrap.scrollTop += row.getBoundingClientRect().top - wrap.getBoundingClientRect().top - wrap.clientHeight / 3;
    };
    const jumpButton = divergence === null ? null : h("button", { type: "button", onclick: toDivergence }, "Go to divergence");
    replace(root, h("section", { class: "compare" },
      h("div", { class: "view-head" }, h("h2", {}, "Compare sessions"), jumpButton),
      h("div", { class: `banner notice ${divergence === null ? "notice-empty" : "notice-critical"}`, role: "status" },
        divergence === null ? "The two sessions take the same steps." : `First divergence at step ${divergence + 1}`),
      h("div", { class: "compare-heads" }, sideHead(left, "A"), sideHead(right, "B")),
      replace(wrap, h("table", { class: "compare-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Step"), h("th", { scope: "col" }, "A"), h("th", { scope: "col" }, "B"))),
        h("tbody", {}, rows)))));
    if (divergence !== null) toDivergence();
  }, (error) => {
    if (!(error instanceof ApiError)) throw error;
    if (!disposed) replace(root, errorNotice(error, "A session"));
  });
  return () => { disposed = true; };
}
