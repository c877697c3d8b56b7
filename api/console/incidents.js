// Incidents: list and filters, status and owner changes (disabled for viewers; the API refuses them
// anyway), the incident's sessions, and its fix runs and regression runs where the server has them.

import { api, ApiError, LiveStream } from "./api.js";
import { chip, errorNotice, h, notice, replace, routeQuery, routeWith, sessionRoute, truncate, when } from "./dom.js";

const STATUSES = ["open", "acknowledged", "resolved", "ignored"];
const MAX_PAGES_TO_FIND = 10;

function workspaceOf(identity, workspaceId) {
  return identity.workspaces.find((w) => w.workspace_id === workspaceId);
}

function memberLabel(identity, userId) {
  if (!userId) return "unassigned";
  return userId === identity.user_id ? `me (${userId.slice(0, 8)})` : userId;
}

/** GET a list an incident may have; null when this server has no such endpoint (yet). */
async function optionalList(path) {
  try {
    return await api(path);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405 || error.status === 501)) return null;
    throw error;
  }
}

function itemsOf(body, ...names) {
  if (Array.isArray(body)) return body;
  for (const name of names) if (Array.isArray(body?.[name])) return body[name];
  return [];
}

function diffView(diff) {
  return h("pre", { class: "diff" }, String(diff).split("\n").map((line) => h("span", {
    class: line.startsWith("+++") || line.startsWith("---") ? "diff-file" : line.startsWith("+") ? "diff-add" : line.startsWith("-") ? "diff-del" : line.startsWith("@@") ? "diff-hunk" : "",
  }, `${line}\n`)));
}

// ── Fix runs and regression runs ─────────────────────────────────────────────────────────────
// GET /api/incidents/{id}/fix-runs and …/regression-runs (docs/fix-agent.md, docs/regression-runs.md).
// Each section is shown only when the server answers its GET with 200, and stays hidden otherwise.
function fixRunsSection(body) {
  const runs = itemsOf(body, "fix_runs", "runs", "items");
  return h("section", { class: "incident-section", dataset: { section: "fix-runs" } }, h("h3", {}, "Fix runs"),
    runs.length ? runs.map((run) => h("div", { class: "run" },
      h("p", {}, h("strong", {}, run.fix_run_id), ` · ${run.runner} · ${when(run.started_at)}`, run.base_sha ? ` · base ${String(run.base_sha).slice(0, 10)}` : ""),
      run.fallback ? h("p", { class: "error-text" }, `Fallback: ${run.fallback.label} — ${run.fallback.reason ?? ""}`) : null,
      Array.isArray(run.plan) && run.plan.length ? h("ol", { class: "plan" }, run.plan.map((step) => h("li", {}, h("strong", {}, `${step.step}: `), step.text))) : null,
      run.diff ? diffView(run.diff) : null)) : notice("empty", "No fix runs yet"));
}

function regressionRunsSection(body) {
  const runs = itemsOf(body, "regression_runs", "runs", "items");
  return h("section", { class: "incident-section", dataset: { section: "regression-runs" } }, h("h3", {}, "Regression runs"),
    runs.length ? runs.map((run) => h("div", { class: "run" },
      h("p", {}, h("strong", {}, run.name ?? run.id), " ", chip(run.status, `status-${run.status}`), ` · ${when(run.created_at)}`),
      Array.isArray(run.pairs) && run.pairs.length ? h("table", { class: "list" },
        h("thead", {}, h("tr", {}, ["Task", "Before", "After", "Verdict", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, run.pairs.map((pair) => h("tr", {},
          h("td", {}, pair.task),
          h("td", {}, pair.before_session_ids.length ? pair.before_session_ids.map((id) => h("a", { href: `#/session/${encodeURIComponent(id)}` }, id)) : "—"),
          h("td", {}, pair.after_session_id ? h("a", { href: `#/session/${encodeURIComponent(pair.after_session_id)}` }, pair.after_session_id) : "—"),
          h("td", {}, chip(pair.verdict ?? "pending", `verdict-${pair.verdict}`)),
          h("td", {}, pair.before_session_ids.length && pair.after_session_id
            ? h("a", { href: `#/compare/${encodeURIComponent(pair.before_session_ids[0])}/${encodeURIComponent(pair.after_session_id)}` }, "compare") : null))))) : null)) : notice("empty", "No regression runs yet"));
}
// ─────────────────────────────────────────────────────────────────────────────────────────────

function incidentDetail(incident, identity, onChanged) {
  const workspace = workspaceOf(identity, incident.workspace_id);
  const readOnly = !workspace || workspace.role === "viewer";
  const message = h("p", { class: "save-status", role: "status", "aria-live": "polite" });
  const statusChip = chip(incident.status, `status-${incident.status}`);
  const statusSelect = h("select", { name: "status", disabled: readOnly, "aria-label": "Status" },
    STATUSES.map((s) => h("option", { value: s, selected: s === incident.status }, s)));
  const ownerSelect = h("select", { name: "owner", disabled: readOnly, "aria-label": "Owner" },
    h("option", { value: "" }, "unassigned"),
    (workspace?.members || []).map((m) => h("option", { value: m.user_id, selected: m.user_id === incident.owner }, memberLabel(identity, m.user_id))));
  async function save(change) {
    message.textContent = "Saving…";
    message.className = "save-status";
    try {
      const updated = await api(`/api/incidents/${encodeURIComponent(incident.id)}`, { method: "PATCH", body: change });
      message.textContent = `Saved: ${updated.status}, ${memberLabel(identity, updated.owner)}`;
      Object.assign(incident, updated); // what a later refusal reverts to
      statusChip.textContent = updated.status;
      statusChip.className = `chip status-${updated.status}`;
      onChanged(updated);
    } catch (error) {
      message.textContent = error.status === 403 ? `Refused: ${error.message}` : `Not saved: ${error.message}`;
      message.className = "save-status error-text";
      statusSelect.value = incident.status;
      ownerSelect.value = incident.owner ?? "";
    }
  }
  statusSelect.addEventListener("change", () => save({ status: statusSelect.value }));
  ownerSelect.addEventListener("change", () => save({ owner: ownerSelect.value || null }));

  const sessions = h("div", {}, notice("loading", "Loading sessions…"));
  api("/api/sessions", { query: { incident_id: incident.id, limit: 20 } }).then((page) => {
    const [latest, previous] = page.sessions;
    replace(sessions, page.sessions.length ? h("ul", { class: "incident-sessions" }, page.sessions.map((s) => h("li", {},
      h("a", { href: sessionRoute(s.id, s.project_id) }, s.name || s.id), " ", chip(s.status, `status-${s.status}`), ` ${when(s.started_at)}`))) : notice("empty", "No sessions linked"),
    previous ? h("a", { href: `#/compare/${encodeURIComponent(previous.id)}/${encodeURIComponent(latest.id)}` }, "Compare the latest two") : null);
  }, (error) => replace(sessions, errorNotice(error, "The sessions")));

  const runs = h("div", { class: "runs" });
  const base = `/api/incidents/${encodeURIComponent(incident.id)}`;
  optionalList(`${base}/fix-runs`).then((body) => body && runs.append(fixRunsSection(body)), () => {});
  optionalList(`${base}/regression-runs`).then((body) => body && runs.append(regressionRunsSection(body)), () => {});

  return h("article", { class: "incident-detail", "aria-label": "Incident" },
    h("h3", {}, incident.title),
    h("p", {}, chip(incident.label, "label"), " ", statusChip, incident.regressed ? chip("regressed", "error") : null),
    h("dl", { class: "facts" },
      h("dt", {}, "tool"), h("dd", {}, incident.tool ?? "—"),
      h("dt", {}, "error type"), h("dd", {}, incident.error_type ?? "—"),
      h("dt", {}, "message"), h("dd", {}, incident.message),
      h("dt", {}, "seen"), h("dd", {}, `${when(incident.first_seen)} → ${when(incident.last_seen)}`),
      h("dt", {}, "sessions"), h("dd", {}, `${incident.session_count} (${incident.occurrence_count} occurrences)`),
      h("dt", {}, "fingerprint"), h("dd", { class: "mono" }, incident.fingerprint)),
    h("div", { class: "controls" }, h("label", {}, "Status ", statusSelect), h("label", {}, "Owner ", ownerSelect)),
    readOnly ? h("p", { class: "muted", dataset: { readonly: "true" } }, "Your role in this workspace is viewer: you can read incidents but not change them.") : null,
    message,
    h("h4", {}, "Sessions"), sessions,
    runs);
}

export function renderIncidents(root, { identity, workspace }) {
  const filters = routeQuery();
  const members = workspace.members || [];
  const projects = workspace.projects || [];
  const form = h("form", { class: "filters", "aria-label": "Incident filters", onsubmit: (e) => {
    e.preventDefault();
    location.hash = routeWith("/incidents", Object.fromEntries(new FormData(form)));
  } },
  projects.length > 1 ? h("label", {}, "Project", h("select", { name: "project_id" }, h("option", { value: "" }, "any"),
    projects.map((p) => h("option", { value: p.project_id, selected: p.project_id === filters.project_id }, p.name)))) : null,
  h("label", {}, "Status", h("select", { name: "status" }, h("option", { value: "" }, "any"), STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s)))),
  h("label", {}, "Label", h("input", { name: "label", value: filters.label ?? "" })),
  h("label", {}, "Owner", h("select", { name: "owner" }, h("option", { value: "" }, "anyone"),
    [...new Set(members.map((m) => m.user_id))].map((id) => h("option", { value: id, selected: id === filters.owner }, memberLabel(identity, id))))),
  h("button", { type: "submit" }, "Apply"),
  h("a", { href: "#/incidents", class: "button secondary" }, "Clear"));

  const body = h("tbody");
  const status = h("div", { class: "list-status", "aria-live": "polite" });
  const detailPane = h("div", { class: "incident-pane" }, notice("empty", "Select an incident", "Its sessions, status and owner appear here."));
  const more = h("button", { type: "button", class: "pager", hidden: true, onclick: () => load(cursor) }, "Load more");
  const incidents = new Map();
  let cursor = null;

  replace(root, h("section", { class: "incidents" },
    h("div", { class: "view-head" }, h("h2", {}, "Incidents")), form,
    h("div", { class: "split" },
      h("div", {}, h("div", { class: "table-wrap" }, h("table", { class: "list" },
        h("thead", {}, h("tr", {}, ["Incident", "Status", "Owner", "Sessions", "Last seen"].map((c) => h("th", { scope: "col" }, c)))), body)), status, more),
      detailPane)));

  function row(incident) {
    return h("tr", { dataset: { incident: incident.id }, class: filters.open === incident.id ? "selected" : "" },
      h("td", {}, h("a", { href: routeWith("/incidents", { ...filters, open: incident.id }) }, truncate(incident.title, 80)), " ", chip(incident.label, "label"), incident.regressed ? chip("regressed", "error") : null),
      h("td", {}, chip(incident.status, `status-${incident.status}`)),
      h("td", {}, memberLabel(identity, incident.owner)),
      h("td", { class: "num" }, String(incident.session_count)),
      h("td", {}, when(incident.last_seen)));
  }

  function upsert(incident) {
    incidents.set(incident.id, incident);
    const fresh = row(incident);
    const existing = body.querySelector(`tr[data-incident="${CSS.escape(incident.id)}"]`);
    if (existing) existing.replaceWith(fresh); else body.append(fresh);
  }

  function showDetail() {
    const incident = incidents.get(filters.open);
    if (incident) replace(detailPane, incidentDetail(incident, identity, (updated) => { upsert(updated); }));
    else replace(detailPane, errorNotice(new ApiError(404, "incident_not_found", ""), `Incident ${filters.open}`));
  }

  async function load(after, pages = 1) {
    status.replaceChildren(notice("loading", "Loading incidents…"));
    try {
      const { open, ...query } = filters;
      const page = await api("/api/incidents", { query: { ...query, workspace_id: workspace.workspace_id, limit: 50, cursor: after } });
      page.incidents.forEach(upsert);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.replaceChildren(incidents.size ? "" : notice("empty", "No incidents", "Failures that the detectors find cluster here."));
      if (open && !incidents.has(open) && cursor && pages < MAX_PAGES_TO_FIND) return load(cursor, pages + 1);
      if (open) showDetail();
    } catch (error) {
      status.replaceChildren(errorNotice(error, "The incident list"));
    }
    return null;
  }

  const stream = new LiveStream({
    query: { workspace_id: workspace.workspace_id, project_id: filters.project_id },
    onMessage: (kind, data) => {
      if (kind === "incident.updated" && incidents.has(data.incident?.id)) upsert(data.incident);
    },
  });
  load(null);
  return () => stream.stop();
}
