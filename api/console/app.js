// The console shell: sign-in with a pasted console JWT, the hash router, the offline banner.

import { api, ApiError, onUnauthorized, token } from "./api.js";
import { errorNotice, h, notice, replace } from "./dom.js";
import { renderCompare } from "./compare.js";
import { renderIncidents } from "./incidents.js";
import { renderLive } from "./live.js";
import { renderReplay } from "./replay.js";
import { renderSessions } from "./sessions.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const offline = document.getElementById("offline");
const WORKSPACE_KEY = "agentdeck.console.workspace";
// `workspace`: the one the views show (stream positions are per workspace, so one at a time).
const context = { identity: null, workspace: null, sessionParameters: new Map() };
let cleanup = () => {};

function expiryOf(jwt) {
  try {
    const claims = JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof claims.exp === "number" ? claims.exp * 1000 : null;
  } catch {
    return null;
  }
}

/** Back to sign-in when the token's exp passes (re-armed: timers cannot wait longer than ~24 days). */
function watchExpiry(jwt) {
  const expiry = expiryOf(jwt);
  if (!expiry) return;
  const check = () => {
    if (token.get() !== jwt) return;
    const left = expiry - Date.now();
    if (left <= 0) signIn("Your token has expired: paste a new one.");
    else setTimeout(check, Math.min(left, 2 ** 30));
  };
  check();
}

function signIn(reason) {
  cleanup();
  cleanup = () => {};
  token.clear();
  context.identity = null;
  nav.hidden = true;
  const field = h("textarea", { id: "token", name: "token", rows: "4", required: true, autocomplete: "off", spellcheck: "false",
    placeholder: "eyJhbGciOi…", "aria-describedby": "token-help" });
  const status = h("div", { role: "status", "aria-live": "polite" }, reason ? notice("error", reason) : null);
  const form = h("form", { class: "sign-in", onsubmit: async (e) => {
    e.preventDefault();
    const value = field.value.trim();
    if (!value) return;
    token.set(value);
    field.value = "";
    status.replaceChildren(notice("loading", "Signing in…"));
    await start();
  } },
  h("h2", {}, "Sign in"),
  h("label", { for: "token" }, "Console token (JWT)"),
  field,
  h("p", { id: "token-help", class: "muted" }, "Locally: ", h("code", {}, "agentdeck token --user <uuid>"),
    ". The token stays in this tab's session storage and is sent only as an Authorization header."),
  h("button", { type: "submit" }, "Sign in"),
  status);
  replace(main, form);
  field.focus();
}

onUnauthorized((error) => {
  signIn(error.code === "token_expired" || /expired/i.test(error.message)
    ? "Your token has expired: paste a new one." : `Signed out: ${error.message}`);
});

async function sessionParameters() {
  // Filters this server supports, from its own OpenAPI document (public, no token needed).
  try {
    const response = await fetch("/openapi.json", { credentials: "omit" });
    const document = await response.json();
    const parameters = document.paths["/api/sessions"].get.parameters || [];
    return new Map(parameters.map((p) => [p.name, p.schema?.enum ? p.schema : p.schema?.anyOf?.find((s) => s.enum) ?? p.schema]));
  } catch {
    return new Map();
  }
}

async function start() {
  const jwt = token.get();
  if (!jwt) return signIn();
  try {
    const [identity, parameters] = await Promise.all([api("/api/me"), sessionParameters()]);
    context.identity = identity;
    context.sessionParameters = parameters;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) return null; // onUnauthorized already shows the sign-in form
    if (error.status === 403) return signIn("This token is not a console user's token (API keys and the service token are not for the browser).");
    replace(main, errorNotice(error, "Your account"));
    return null;
  }
  watchExpiry(jwt);
  const { workspaces } = context.identity;
  if (!workspaces.length) {
    replace(main, notice("empty", "You are not a member of any workspace", "Ask an owner to add you: agentdeck member add --workspace … --user <your uuid> --role member."));
    return null;
  }
  context.workspace = workspaces.find((w) => w.workspace_id === sessionStorage.getItem(WORKSPACE_KEY)) ?? workspaces[0];
  nav.hidden = false;
  showWorkspaces();
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/sessions";
  else route();
  return null;
}

function showWorkspaces() {
  const { workspaces } = context.identity;
  const who = document.getElementById("who");
  const label = (w) => `${w.name} (${w.role})`;
  if (workspaces.length === 1) { replace(who, label(workspaces[0])); return; }
  replace(who, h("select", { "aria-label": "Workspace", onchange: (e) => {
    context.workspace = workspaces.find((w) => w.workspace_id === e.target.value);
    sessionStorage.setItem(WORKSPACE_KEY, context.workspace.workspace_id);
    location.hash = "#/sessions";
    route();
  } }, workspaces.map((w) => h("option", { value: w.workspace_id, selected: w === context.workspace }, label(w)))));
}

function route() {
  if (!context.identity) return;
  cleanup();
  const [path] = location.hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const link of nav.querySelectorAll("a[data-view]")) {
    link.toggleAttribute("aria-current", link.dataset.view === parts[0] || (link.dataset.view === "sessions" && parts[0] === "session"));
  }
  const views = {
    sessions: () => renderSessions(main, context),
    session: () => renderReplay(main, { ...context, sessionId: parts[1] }),
    compare: () => renderCompare(main, { ...context, left: parts[1], right: parts[2] }),
    live: () => renderLive(main, context),
    incidents: () => renderIncidents(main, context),
  };
  const view = views[parts[0]];
  cleanup = view && (parts[0] !== "session" || parts[1]) && (parts[0] !== "compare" || parts[2])
    ? view() : (replace(main, notice("error", "No such page", "Use the navigation above.")), () => {});
  main.focus({ preventScroll: true });
}

function showConnectivity() {
  offline.hidden = navigator.onLine;
}

addEventListener("hashchange", route);
addEventListener("online", showConnectivity);
addEventListener("offline", showConnectivity);
document.getElementById("sign-out").addEventListener("click", () => signIn());
document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey || !context.identity) return;
  const jumps = { s: "#/sessions", i: "#/incidents", l: "#/live" };
  if (e.key in jumps && e.shiftKey === false && document.activeElement?.closest(".timeline") === null) location.hash = jumps[e.key];
});
showConnectivity();
start();
