// Session replay: the timeline by seq, opened at the critical step, with the findings' evidence
// marked, search over the whole trace, paging by after_seq, and new events followed live.

import { api, ApiError, LiveStream } from "./api.js";
import { chip, duration, errorNotice, h, notice, replace, routeQuery, truncate, when } from "./dom.js";
import { detail, isError, summary, toolOf } from "./events.js";

const PAGE = 500;
const SCAN_PAGE = 5000;
const SCAN_CONCURRENCY = 4;
const MAX_MATCHES = 500;
const CONTEXT_BEFORE = 100; // events shown before a step the replay jumps to
export const EVENT_TYPES = ["session.start", "session.end", "llm.request", "llm.response", "tool.call", "tool.result",
  "browser.action", "browser.navigation", "artifact", "log", "error", "assertion"];

/** One loaded, contiguous window of a session's events (seq order), grown by pages. */
class EventWindow {
  constructor(sessionId) {
    this.sessionId = sessionId;
    this.projectId = null; // set once the session is found: trace ids are unique per project only
    this.reset();
  }

  reset() {
    this.events = [];
    this.bySeq = new Map();
    this.startReached = false;
    this.endReached = false;
  }

  page(afterSeq, limit = PAGE) {
    return api(`/api/traces/${encodeURIComponent(this.sessionId)}/events`,
      { query: { project_id: this.projectId, after_seq: afterSeq, limit } });
  }

  merge(events) {
    const fresh = events.filter((event) => !this.bySeq.has(event.seq)); // overlapping pages, live repeats
    for (const event of fresh) this.bySeq.set(event.seq, event);
    const last = this.events[this.events.length - 1]?.seq ?? -1;
    if (fresh.every((event, i) => event.seq > (i ? fresh[i - 1].seq : last))) this.events.push(...fresh); // appended in order
    else if (fresh.length) this.events = [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
    return fresh.length;
  }

  /** Replace the window by the events around `seq` (from the start when null). */
  async openAt(seq) {
    const after = seq === null || seq - CONTEXT_BEFORE - 1 < 0 ? null : seq - CONTEXT_BEFORE - 1;
    const result = await this.page(after);
    this.reset();
    this.merge(result.events);
    this.startReached = after === null;
    this.endReached = result.next_after_seq === null;
  }

  async later() {
    if (!this.events.length) return this.openAt(null);
    const result = await this.page(this.events[this.events.length - 1].seq);
    this.endReached = result.next_after_seq === null;
    return this.merge(result.events);
  }

  async earlier() {
    const first = this.events[0]?.seq ?? 0;
    // Seqs are distinct integers: at most PAGE of them lie in (first - PAGE - 1, first).
    const after = first - PAGE - 1 < 0 ? null : first - PAGE - 1;
    const result = await this.page(after);
    if (after === null) this.startReached = true;
    return this.merge(result.events.filter((e) => e.seq < first));
  }

  get lastPosition() {
    return this.events.length ? Math.max(...this.events.slice(-PAGE).map((e) => e.position)) : null;
  }
}

/**
 * Reads a whole session for a search: seq ranges of SCAN_PAGE read SCAN_CONCURRENCY at a time
 * (the database builds each page in its own backend), handed to `onRange` in seq order until it
 * returns false. The last range runs to the end, so events appended meanwhile are included.
 */
async function scanSession(sessionId, projectId, lastSeq, { types, signal, onRange }) {
  const ranges = Math.floor((lastSeq ?? 0) / SCAN_PAGE) + 1;
  const readRange = async (index) => {
    const end = index === ranges - 1 ? Infinity : (index + 1) * SCAN_PAGE;
    let after = index === 0 ? null : index * SCAN_PAGE - 1;
    const events = [];
    for (;;) {
      const page = await api(`/api/traces/${encodeURIComponent(sessionId)}/events`,
        { query: { project_id: projectId, after_seq: after, limit: SCAN_PAGE, types }, signal });
      events.push(...page.events.filter((e) => e.seq < end));
      const last = page.events[page.events.length - 1];
      if (page.next_after_seq === null || !last || last.seq >= end - 1) return events;
      after = page.next_after_seq;
    }
  };
  for (let first = 0; first < ranges; first += SCAN_CONCURRENCY) {
    const indexes = Array.from({ length: Math.min(SCAN_CONCURRENCY, ranges - first) }, (_, i) => first + i);
    for (const events of await Promise.all(indexes.map(readRange))) if (onRange(events) === false) return;
  }
}

/** Without a recorded cause: the model turn up the failing event's parent chain, else the last one before it. */
function decisionBefore(loaded, failureSeq) {
  const failed = loaded.bySeq.get(failureSeq);
  let seq = failed?.parent_seq ?? null;
  const parent = seq;
  while (seq !== null) {
    const event = loaded.bySeq.get(seq);
    if (!event) break;
    if (event.type === "llm.response") return seq;
    seq = event.parent_seq ?? null;
  }
  if (parent !== null) return parent;
  const before = loaded.events.filter((e) => e.seq < failureSeq && e.type === "llm.response");
  return before.length ? before[before.length - 1].seq : null;
}

/** Where the analysis says the run went wrong: the critical step, the observed failure, its cause. */
function marksOf(analysis, loaded) {
  const marks = { opening: null, failure: null, cause: null, evidence: new Set(), critical: null };
  if (!analysis) return marks;
  for (const label of analysis.labels || []) for (const seq of label.evidence?.seqs || []) marks.evidence.add(seq);
  const step = analysis.critical_step;
  if (!step) return marks;
  const finding = (analysis.labels || []).find((l) => l.label === step.label && (l.critical_seq === step.seq || l.cause_seq === step.seq))
    || (analysis.labels || []).find((l) => l.label === step.label);
  marks.critical = step;
  marks.opening = step.seq;
  // The critical step is the cause (the decision); observed_seq is where the failure showed.
  marks.failure = step.observed_seq ?? finding?.critical_seq ?? step.seq;
  marks.cause = finding?.cause_seq ?? step.cause_seq ?? (step.seq !== marks.failure ? step.seq : null);
  if (marks.cause === null) marks.cause = decisionBefore(loaded, marks.failure);
  return marks;
}

function sessionHead(session, analysis, liveLabel) {
  const labels = session.labels?.length ? session.labels : (analysis?.labels || []).map((l) => l.label);
  return h("header", { class: "session-head" },
    h("div", { class: "title-row" },
      h("h2", {}, session.name || session.id),
      chip(session.status, `status-${session.status}`),
      session.verdict || analysis?.verdict ? chip(session.verdict || analysis.verdict, "verdict") : null,
      labels.map((l) => chip(l, "label")),
      liveLabel),
    h("p", { class: "muted" },
      `${session.id} · ${session.agent?.name ?? "no agent"}${session.agent?.version ? ` ${session.agent.version}` : ""}`,
      ` · ${session.environment ?? "no environment"} · ${session.event_count} events, ${session.error_count} error${session.error_count === 1 ? "" : "s"}`,
      ` · started ${when(session.started_at)}${session.ended_at ? ` · ${duration(session.started_at, session.ended_at)}` : ""}`,
      session.tags?.length ? ` · tags: ${session.tags.join(", ")}` : ""));
}

function findingsPanel(analysis, marks, jump) {
  if (!analysis) return h("aside", { class: "findings", "aria-label": "Findings" }, notice("empty", "Not analysed yet", "The detectors have not run on this session."));
  const seqButton = (seq, label) => h("button", { type: "button", class: "link seq-link", onclick: () => jump(seq) }, label ?? `#${seq}`);
  return h("aside", { class: "findings", "aria-label": "Findings" },
    h("h3", {}, "Findings"),
    marks.critical
      ? h("div", { class: "critical-box" },
        h("strong", {}, "Critical step "), seqButton(marks.opening),
        h("p", {}, `${marks.critical.label}: ${marks.critical.reason}`),
        h("p", {}, "Observed failure ", seqButton(marks.failure), marks.cause !== null ? [" · cause ", seqButton(marks.cause)] : null))
      : notice("empty", "No failure found", "No decisive finding in this session."),
    (analysis.labels || []).map((label) => h("div", { class: `finding${label.recovered ? " recovered" : ""}` },
      h("div", {}, chip(label.label, "label"), ` ${Math.round(label.confidence * 100)}%`, label.recovered ? chip("recovered", "") : null),
      h("p", {}, truncate(label.signature?.message ?? "", 200)),
      h("p", { class: "muted" }, "at ", label.critical_seq !== null ? seqButton(label.critical_seq) : "—",
        label.cause_seq !== undefined && label.cause_seq !== null ? [" · cause ", seqButton(label.cause_seq)] : null),
      label.evidence?.seqs?.length ? h("p", { class: "evidence-seqs" }, "evidence ", label.evidence.seqs.map((s) => seqButton(s))) : null,
      label.evidence?.facts && Object.keys(label.evidence.facts).length
        ? h("details", { class: "facts-box", open: label.label === marks.critical?.label },
          h("summary", {}, `facts (${Object.keys(label.evidence.facts).length})`),
          h("dl", { class: "facts" }, Object.entries(label.evidence.facts).map(([k, v]) => [h("dt", {}, k), h("dd", {}, truncate(typeof v === "string" ? v : JSON.stringify(v), 160))])))
        : null)),
    h("p", { class: "muted small" }, `detector ${analysis.detector_version} · ${when(analysis.analyzed_at)}`));
}

export function renderReplay(root, { sessionId }) {
  const loaded = new EventWindow(sessionId);
  const state = { session: null, analysis: null, marks: marksOf(null, loaded), selected: null, matches: [], matchSet: new Set(),
    pendingLive: 0, stream: null, scan: null, disposed: false };
  const liveLabel = h("span", { class: "live-state", "aria-live": "polite" });
  const head = h("div");
  const banner = h("div", { class: "banner", role: "status" });
  const findings = h("div");
  const list = h("ol", { class: "timeline", role: "listbox", "aria-label": "Timeline by seq", tabindex: "0" });
  const detailPane = h("article", { class: "detail", tabindex: "-1", "aria-label": "Event detail" }, notice("empty", "Select an event", "Use ↑/↓ or j/k to move through the timeline."));
  const earlierButton = h("button", { type: "button", class: "pager", onclick: () => grow("earlier") }, "Load earlier events");
  const laterButton = h("button", { type: "button", class: "pager", onclick: () => grow("later") }, "Load later events");
  const results = h("div", { class: "search-results", "aria-live": "polite" });
  const query = h("input", { type: "search", name: "q", placeholder: "Search text (press /)", "aria-label": "Search the trace" });
  const typeSelect = h("select", { name: "type", "aria-label": "Event type" }, h("option", { value: "" }, "any type"), EVENT_TYPES.map((t) => h("option", { value: t }, t)));
  const tool = h("input", { type: "text", name: "tool", placeholder: "tool", "aria-label": "Tool name", size: "10" });
  const searchForm = h("form", { class: "search", role: "search", onsubmit: (e) => { e.preventDefault(); search(); } },
    query, typeSelect, tool, h("button", { type: "submit" }, "Search"));
  const compareInput = h("input", { type: "text", placeholder: "other session id", "aria-label": "Session to compare with", size: "18" });
  const compareForm = h("form", { class: "compare-form", onsubmit: (e) => { e.preventDefault(); if (compareInput.value.trim()) location.hash = `#/compare/${encodeURIComponent(sessionId)}/${encodeURIComponent(compareInput.value.trim())}`; } },
    compareInput, h("button", { type: "submit" }, "Compare"));

  replace(root, h("section", { class: "replay" }, head, banner,
    h("div", { class: "replay-grid" }, findings,
      h("div", { class: "timeline-col" }, searchForm, results, earlierButton, list, laterButton, compareForm),
      detailPane)));

  function rowFor(event) {
    const classes = ["event"];
    if (isError(event)) classes.push("error");
    if (event.seq === state.marks.failure) classes.push("failure");
    if (event.seq === state.marks.cause) classes.push("cause");
    if (state.marks.evidence.has(event.seq)) classes.push("evidence");
    if (state.matchSet.has(event.seq)) classes.push("match");
    const selected = event.seq === state.selected;
    if (selected) classes.push("selected");
    return h("li", { id: `ev-${event.seq}`, class: classes.join(" "), role: "option", "aria-selected": String(selected),
      tabindex: selected ? "0" : "-1", dataset: { seq: String(event.seq) }, onclick: () => select(event.seq) },
    h("span", { class: "seq" }, `#${event.seq}`),
    h("span", { class: `type type-${event.type.replace(/\W/g, "-")}` }, event.type),
    h("span", { class: "summary" }, summary(event)),
    event.seq === state.marks.failure ? h("span", { class: "mark mark-failure" }, "observed failure") : null,
    event.seq === state.marks.cause ? h("span", { class: "mark mark-cause" }, "cause") : null);
  }

  function rows(events) {
    const fragment = document.createDocumentFragment();
    for (const event of events) fragment.append(rowFor(event));
    return fragment;
  }

  function renderList() {
    const hadFocus = list.contains(document.activeElement);
    list.replaceChildren(rows(loaded.events));
    if (!loaded.events.length) list.append(h("li", { class: "empty-row" }, "No events yet."));
    updatePagers();
    // Re-rendering replaces the rows: keep the keyboard where it was.
    if (hadFocus) list.querySelector("li.selected")?.focus({ preventScroll: true });
  }

  function markMatches() {
    for (const row of list.children) row.classList.toggle("match", state.matchSet.has(Number(row.dataset.seq)));
  }

  function updatePagers() {
    earlierButton.hidden = loaded.startReached;
    laterButton.hidden = loaded.endReached && !state.pendingLive;
    laterButton.textContent = state.pendingLive ? `Load later events (${state.pendingLive} new)` : "Load later events";
  }

  function renderHead() {
    if (state.session) replace(head, sessionHead(state.session, state.analysis, liveLabel));
    replace(findings, findingsPanel(state.analysis, state.marks, jump));
  }

  function select(seq, { focus = true } = {}) {
    const event = loaded.bySeq.get(seq);
    if (!event) return;
    const previous = list.querySelector("li.selected");
    if (previous) { previous.classList.remove("selected"); previous.setAttribute("aria-selected", "false"); previous.tabIndex = -1; }
    state.selected = seq;
    const row = list.querySelector(`#ev-${seq}`);
    if (row) {
      row.classList.add("selected");
      row.setAttribute("aria-selected", "true");
      row.tabIndex = 0;
      reveal(row, false);
      if (focus) row.focus({ preventScroll: true });
    }
    const marks = [];
    if (seq === state.marks.failure) marks.push(h("span", { class: "mark mark-failure" }, "observed failure"));
    if (seq === state.marks.cause) marks.push(h("span", { class: "mark mark-cause" }, "cause"));
    if (state.marks.evidence.has(seq)) marks.push(h("span", { class: "mark" }, "evidence"));
    replace(detailPane,
      h("h3", {}, `#${event.seq} `, h("span", { class: "type" }, event.type), event.name ? ` ${event.name}` : "", marks),
      h("p", { class: "muted small" }, `received ${when(event.received_at)}${event.ts ? ` · client time ${when(event.ts)}` : ""}${event.parent_seq !== null ? ` · parent #${event.parent_seq}` : ""}`),
      h("div", { class: isError(event) ? "detail-body error" : "detail-body" }, detail(event)));
  }

  async function jump(seq) {
    if (!loaded.bySeq.has(seq)) {
      await guarded(() => loaded.openAt(seq));
      renderList();
    }
    select(seq);
    const row = list.querySelector(`#ev-${seq}`);
    if (row) reveal(row, true);
  }

  /** Scrolls the timeline, never the page, to show a row. */
  function reveal(row, center) {
    const top = row.offsetTop;
    const bottom = top + row.offsetHeight;
    if (center) list.scrollTop = top - (list.clientHeight - row.offsetHeight) / 2;
    else if (top < list.scrollTop) list.scrollTop = top;
    else if (bottom > list.scrollTop + list.clientHeight) list.scrollTop = bottom - list.clientHeight;
  }

  /** One more page at either end, added to the list as it stands (the rows in view stay put). */
  async function grow(direction) {
    const edge = direction === "later" ? loaded.events[loaded.events.length - 1]?.seq : loaded.events[0]?.seq;
    await guarded(() => (direction === "later" ? loaded.later() : loaded.earlier()));
    if (direction === "later" && loaded.endReached) state.pendingLive = 0;
    if (edge === undefined) { renderList(); return; }
    const fresh = loaded.events.filter((e) => (direction === "later" ? e.seq > edge : e.seq < edge));
    if (direction === "later") list.append(rows(fresh));
    else {
      const height = list.scrollHeight;
      list.prepend(rows(fresh));
      list.scrollTop += list.scrollHeight - height;
    }
    updatePagers();
  }

  async function guarded(action) {
    try {
      return await action();
    } catch (error) {
      if (error instanceof ApiError) banner.replaceChildren(errorNotice(error, "The session"));
      else throw error;
      return null;
    }
  }

  function move(delta) {
    const events = loaded.events;
    if (!events.length) return;
    const index = events.findIndex((e) => e.seq === state.selected);
    const next = index < 0 ? 0 : index + delta;
    if (next >= events.length && !loaded.endReached) { grow("later").then(() => move(delta)); return; }
    if (next < 0 && !loaded.startReached) { grow("earlier").then(() => move(delta)); return; }
    select(events[Math.max(0, Math.min(events.length - 1, next))].seq);
  }

  list.addEventListener("keydown", (e) => {
    const keys = { ArrowDown: 1, j: 1, ArrowUp: -1, k: -1, PageDown: 20, PageUp: -20 };
    if (e.key in keys) { e.preventDefault(); move(keys[e.key]); }
    else if (e.key === "Home") { e.preventDefault(); if (loaded.events.length) select(loaded.events[0].seq); }
    else if (e.key === "End") { e.preventDefault(); if (loaded.events.length) select(loaded.events[loaded.events.length - 1].seq); }
    else if (e.key === "Enter") { e.preventDefault(); detailPane.focus(); }
  });

  function onKey(e) {
    if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "/") { e.preventDefault(); query.focus(); }
    else if (e.key === "c" && state.marks.opening !== null) { e.preventDefault(); jump(state.marks.opening); }
    else if ((e.key === "n" || e.key === "N") && state.matches.length) {
      e.preventDefault();
      const after = state.matches.filter((s) => (e.key === "n" ? s > (state.selected ?? -1) : s < (state.selected ?? Infinity)));
      jump(e.key === "n" ? (after[0] ?? state.matches[0]) : (after[after.length - 1] ?? state.matches[state.matches.length - 1]));
    }
  }
  document.addEventListener("keydown", onKey);

  /** Scans the whole session page by page (types narrowed by the server), matching text and tool here. */
  async function search() {
    state.scan?.abort();
    const scan = new AbortController();
    state.scan = scan;
    const text = query.value.trim().toLowerCase();
    const type = typeSelect.value;
    const toolName = tool.value.trim().toLowerCase();
    state.matches = [];
    state.matchSet = new Set();
    if (!text && !type && !toolName) { replace(results); markMatches(); return; }
    const found = h("ul", { class: "matches" });
    const progress = h("p", { class: "muted small" }, "Searching…");
    replace(results, progress, found);
    try {
      await scanSession(sessionId, state.session.project_id, state.session.last_seq, { types: type, signal: scan.signal, onRange: (events) => {
        for (const event of events) {
          const haystack = `${event.type} ${event.name ?? ""} ${JSON.stringify(event.payload)}`.toLowerCase();
          if (text && !haystack.includes(text)) continue;
          if (toolName && String(toolOf(event) ?? "").toLowerCase() !== toolName) continue;
          if (state.matches.length >= MAX_MATCHES) break;
          state.matches.push(event.seq);
          state.matchSet.add(event.seq);
          found.append(h("li", {}, h("button", { type: "button", class: "link", onclick: () => jump(event.seq) },
            h("span", { class: "seq" }, `#${event.seq}`), ` ${event.type} — ${truncate(summary(event), 90)}`)));
        }
        progress.textContent = `${state.matches.length} match${state.matches.length === 1 ? "" : "es"} so far…`;
        return state.matches.length < MAX_MATCHES;
      } });
      progress.textContent = `${state.matches.length} match${state.matches.length === 1 ? "" : "es"}`
        + (state.matches.length >= MAX_MATCHES ? ` (first ${MAX_MATCHES} shown)` : "") + (state.matches.length ? " · n / N to step through" : "");
    } catch (error) {
      if (error.name === "AbortError") return;
      results.append(errorNotice(error, "The session"));
    }
    markMatches();
    if (state.matches.length) jump(state.matches[0]);
  }

  function follow() {
    // From the last loaded position when the window reaches the end: exactly the events after it.
    state.stream = new LiveStream({
      query: { workspace_id: state.session.workspace_id, session_id: sessionId, project_id: state.session.project_id },
      lastEventId: loaded.endReached ? loaded.lastPosition : null,
      onState: (s) => { liveLabel.textContent = { live: "● live", connecting: "connecting…", reconnecting: "reconnecting…", offline: "offline — will resume", error: "stream error", stopped: "" }[s] ?? s; liveLabel.dataset.state = s; },
      onOpen: () => { if (loaded.endReached && !loaded.events.length) grow("later"); },
      onReset: () => grow("later"),
      onMessage: (kind, data) => {
        if (kind === "trace.event") {
          const event = data.event;
          if (loaded.bySeq.has(event.seq)) return;
          const last = loaded.events[loaded.events.length - 1];
          if (!loaded.endReached || (last && event.seq < last.seq)) { state.pendingLive += 1; updatePagers(); return; }
          loaded.merge([event]);
          list.querySelector(".empty-row")?.remove();
          list.append(rowFor(event));
          if (state.session) {
            state.session.event_count += 1;
            if (isError(event)) state.session.error_count += 1;
            replace(head, sessionHead(state.session, state.analysis, liveLabel));
          }
        } else if (kind === "session.updated") {
          state.session = { ...state.session, ...data.session };
          renderHead();
        } else if (kind === "analysis.completed") {
          loadAnalysis().then(() => { renderHead(); renderList(); });
        }
      },
    });
  }

  async function loadAnalysis() {
    try {
      state.analysis = await api(`/api/traces/${encodeURIComponent(sessionId)}/analysis`,
        { query: { project_id: state.session.project_id } });
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
      state.analysis = null;
    }
    state.marks = marksOf(state.analysis, loaded);
  }

  const requested = Number.parseInt(routeQuery().seq, 10);
  (async () => {
    replace(list, h("li", { class: "empty-row" }, "Loading…"));
    try {
      const page = await api("/api/sessions", { query: { session_id: sessionId, project_id: routeQuery().project_id, limit: 1 } });
      state.session = page.sessions.find((s) => s.id === sessionId);
      if (!state.session) throw new ApiError(404, "trace_not_found", "no such session");
      loaded.projectId = state.session.project_id;
      await loadAnalysis();
      await loaded.openAt(Number.isInteger(requested) ? requested : state.marks.opening);
      state.marks = marksOf(state.analysis, loaded);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (!state.disposed) replace(root, errorNotice(error, `Session ${sessionId}`));
      return;
    }
    if (state.disposed) return; // the user went elsewhere meanwhile
    renderHead();
    renderList();
    if (Number.isInteger(requested) && loaded.bySeq.has(requested)) {
      jump(requested); // a link to one step (compare, search results elsewhere)
    } else if (state.marks.opening !== null && loaded.bySeq.has(state.marks.opening)) {
      replace(banner, h("div", { class: "notice notice-critical" },
        h("strong", {}, `Opened at the critical step #${state.marks.opening}`),
        h("p", {}, `${state.marks.critical.label}: ${state.marks.critical.reason}. Press c to come back here.`)));
      jump(state.marks.opening);
    } else if (loaded.events.length) {
      select(loaded.events[0].seq, { focus: false });
    }
    follow();
  })();

  return () => {
    state.disposed = true;
    document.removeEventListener("keydown", onKey);
    state.scan?.abort();
    state.stream?.stop();
  };
}
