// The sessions list: the API's filters, cursor paging, live updates from the workspace stream, and
// picking two sessions to compare.

import { api, LiveStream } from "./api.js";
import { chip, duration, errorNotice, h, notice, replace, routeQuery, routeWith, sessionRoute, truncate, when } from "./dom.js";

const STATUSES = ["running", "success", "failure", "error", "cancelled"];
// Offered when the server's /openapi.json lists them for GET /api/sessions.
const FILTERS = [
  ["q", "Text", "search"], ["agent", "Agent", "text"], ["environment", "Environment", "text"], ["tag", "Tag", "text"],
  ["label", "Label", "text"], ["since", "Since", "datetime-local"], ["until", "Until", "datetime-local"],
];

function toIso(local) {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function toLocal(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function selectOf(name, label, options, value) {
  return h("label", {}, label, h("select", { name },
    h("option", { value: "" }, "any"), options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
}

export function renderSessions(root, { workspace, sessionParameters }) {
  const filters = routeQuery();
  const projects = workspace.projects || [];
  const verdicts = sessionParameters.get("verdict")?.enum;
  const form = h("form", { class: "filters", "aria-label": "Session filters", onsubmit: (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    data.since = toIso(data.since);
    data.until = toIso(data.until);
    location.hash = routeWith("/sessions", data);
  } },
  projects.length > 1 ? selectOf("project_id", "Project", projects.map((p) => [p.project_id, p.name]), filters.project_id) : null,
  selectOf("status", "Status", STATUSES.map((s) => [s, s]), filters.status),
  verdicts ? selectOf("verdict", "Verdict", verdicts.map((v) => [v, v]), filters.verdict) : null,
  FILTERS.filter(([name]) => !sessionParameters.size || sessionParameters.has(name)).map(([name, label, type]) => h("label", {}, label,
    h("input", { name, type, value: type === "datetime-local" ? toLocal(filters[name]) : filters[name] ?? "" }))),
  h("button", { type: "submit" }, "Apply"),
  h("a", { href: "#/sessions", class: "button secondary" }, "Clear"));

  const body = h("tbody");
  const more = h("button", { type: "button", class: "pager", hidden: true, onclick: () => load(cursor) }, "Load more");
  const status = h("div", { class: "list-status", "aria-live": "polite" });
  const compareButton = h("button", { type: "button", disabled: true, onclick: () => {
    const [a, b] = picked;
    location.hash = `#/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}`;
  } }, "Compare selected");
  const liveLabel = h("span", { class: "live-state" });
  const picked = [];
  const rows = new Map();
  let cursor = null;

  replace(root, h("section", { class: "sessions" },
    h("div", { class: "view-head" }, h("h2", {}, "Sessions"), liveLabel, compareButton),
    form,
    h("div", { class: "table-wrap" }, h("table", { class: "list" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Compare")),
        ["Session", "Status", "Labels", "Agent", "Environment", "Events", "Errors", "Started", "Duration"].map((c) => h("th", { scope: "col" }, c)))),
      body)),
    status, more));

  function row(session) {
    const box = h("input", { type: "checkbox", "aria-label": `Compare ${session.id}`, checked: picked.includes(session.id), onchange: (e) => {
      if (e.target.checked) picked.push(session.id); else picked.splice(picked.indexOf(session.id), 1);
      while (picked.length > 2) {
        const dropped = picked.shift();
        rows.get(dropped)?.querySelector("input").click();
      }
      compareButton.disabled = picked.length !== 2;
    } });
    const open = sessionRoute(session.id, session.project_id);
    return h("tr", { dataset: { session: session.id }, class: session.status === "failure" || session.status === "error" ? "failed" : "" },
      h("td", {}, box),
      h("td", {}, h("a", { href: open }, truncate(session.name || session.id, 60)), session.name ? h("div", { class: "muted small" }, session.id) : null),
      h("td", {}, chip(session.status, `status-${session.status}`), session.verdict ? chip(session.verdict, "verdict") : null),
      h("td", {}, (session.labels || []).map((l) => chip(l, "label"))),
      h("td", {}, session.agent?.name ?? "—"),
      h("td", {}, session.environment ?? "—"),
      h("td", { class: "num" }, String(session.event_count)),
      h("td", { class: "num" }, String(session.error_count)),
      h("td", {}, when(session.started_at)),
      h("td", {}, duration(session.started_at, session.ended_at)));
  }

  function upsert(session, { prepend = false } = {}) {
    const fresh = row(session);
    const existing = rows.get(session.id);
    if (existing) existing.replaceWith(fresh);
    else if (prepend) body.prepend(fresh);
    else body.append(fresh);
    rows.set(session.id, fresh);
  }

  async function load(after) {
    status.replaceChildren(notice("loading", "Loading sessions…"));
    try {
      const page = await api("/api/sessions", { query: { ...filters, workspace_id: workspace.workspace_id, limit: 50, cursor: after } });
      page.sessions.forEach((s) => upsert(s));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.replaceChildren(rows.size ? "" : notice("empty", "No sessions match", Object.keys(filters).length
        ? "Clear the filters, or widen them." : "Send a trace: POST /api/traces with a project API key (docs/events.md)."));
    } catch (error) {
      status.replaceChildren(errorNotice(error, "The session list"));
    }
  }

  const filtered = Object.keys(filters).some((k) => k !== "project_id");
  const stream = new LiveStream({
    query: { workspace_id: workspace.workspace_id, project_id: filters.project_id },
    onState: (s) => { liveLabel.textContent = s === "live" ? "● live" : s === "offline" ? "offline — will resume" : s === "stopped" ? "" : `${s}…`; liveLabel.dataset.state = s; },
    onMessage: (kind, data) => {
      if (kind === "session.updated") {
        // A new or ended session: shown at once when the list is unfiltered, else when it is already listed.
        if (rows.has(data.session.id) || !filtered) upsert(data.session, { prepend: !rows.has(data.session.id) });
        if (rows.size) status.replaceChildren();
      } else if (kind === "trace.event") {
        const tr = rows.get(data.session_id);
        if (!tr) return;
        const cells = tr.querySelectorAll("td.num");
        cells[0].textContent = String(Number(cells[0].textContent) + 1);
        tr.classList.add("pulse");
      }
    },
  });

  load(null);
  return () => stream.stop();
}
