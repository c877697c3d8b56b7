// Building the page from data without innerHTML: every value is set as text, never parsed as HTML.

/** `h("a", {href: "#/x", class: "y", onclick}, "text", child)` */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function when(value) {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

export function duration(start, end) {
  if (!start || !end) return "";
  const ms = new Date(end) - new Date(start);
  if (!(ms >= 0)) return "";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60000)} min`;
}

export function json(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

export function truncate(text, length = 140) {
  const flat = String(text ?? "").replace(/\s+/g, " ").trim();
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}

/** A state panel: empty, error, loading. */
export function notice(kind, title, detail) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("strong", {}, title), detail ? h("p", {}, detail) : null);
}

/** The message an ApiError deserves on screen. */
export function errorNotice(error, what = "This") {
  if (error.status === 404) return notice("error", `${what} was not found`, "It does not exist or is not visible to you.");
  if (error.status === 0) return notice("error", error.code === "offline" ? "You are offline" : "The server cannot be reached",
    "Reconnect and try again; live views resume where they stopped.");
  if (error.status === 403) return notice("error", "Not allowed", error.message);
  return notice("error", `Request failed (${error.status || "network"})`,
    `${error.message}${error.requestId ? ` — request ${error.requestId}` : ""}`);
}

export function chip(text, kind = "") {
  return h("span", { class: `chip ${kind}` }, text);
}

/** A session's replay route; the project disambiguates trace ids that several projects share. */
export function sessionRoute(sessionId, projectId, seq) {
  return routeWith(`/session/${encodeURIComponent(sessionId)}`, { project_id: projectId, seq });
}

/** Reads and writes the hash route's query: `#/sessions?status=failure`. */
export function routeQuery() {
  const [, query = ""] = location.hash.split("?");
  return Object.fromEntries(new URLSearchParams(query));
}

export function routeWith(path, query) {
  const params = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const text = params.toString();
  return `#${path}${text ? `?${text}` : ""}`;
}
