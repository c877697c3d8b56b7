// The live view: every message of the workspace (or one session) as it arrives over /api/stream.

import { LiveStream } from "./api.js";
import { h, notice, replace, routeQuery, routeWith, sessionRoute, truncate } from "./dom.js";
import { isError, summary } from "./events.js";

const KEEP = 1000; // messages kept on screen

function describe(kind, data) {
  if (kind === "trace.event") return [`#${data.event.seq} ${data.event.type}`, summary(data.event), isError(data.event)];
  if (kind === "session.updated") return [`session ${data.session.status}`, data.session.name ?? "", data.session.status === "failure"];
  if (kind === "analysis.completed") return ["analysis", (data.analysis?.labels || []).map((l) => l.label).join(", ") || "no findings", false];
  if (kind === "incident.updated") return [`incident ${data.incident?.status}`, data.incident?.title ?? "", false];
  return [kind, "", false];
}

export function renderLive(root, { workspace }) {
  const { session_id: sessionId } = routeQuery();
  const feed = h("ol", { class: "feed", "aria-label": "Live messages", "aria-live": "polite" });
  const state = h("span", { class: "live-state" });
  const paused = h("input", { type: "checkbox", "aria-label": "Pause" });
  const sessionInput = h("input", { name: "session_id", value: sessionId ?? "", placeholder: "all sessions", "aria-label": "Follow one session" });
  const empty = notice("empty", "Waiting for messages", "New events, session changes, analyses and incident changes appear here as they happen.");
  replace(root, h("section", { class: "live" },
    h("div", { class: "view-head" }, h("h2", {}, "Live"), state, h("label", {}, paused, " pause scrolling")),
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); location.hash = routeWith("/live", { session_id: sessionInput.value.trim() }); } },
      h("label", {}, "Session", sessionInput), h("button", { type: "submit" }, "Follow")),
    empty, feed));

  const stream = new LiveStream({
    query: { workspace_id: workspace.workspace_id, session_id: sessionId },
    onState: (s) => { state.textContent = s === "live" ? "● live" : s === "offline" ? "offline — will resume" : s === "stopped" ? "" : `${s}…`; state.dataset.state = s; },
    onMessage: (kind, data, position) => {
      empty.remove();
      const [title, text, failed] = describe(kind, data);
      feed.append(h("li", { class: failed ? "error" : "", dataset: { position: String(position) } },
        h("span", { class: "seq" }, String(position)),
        h("span", { class: "type" }, kind),
        data.session_id ? h("a", { href: sessionRoute(data.session_id, data.project_id) }, truncate(data.session_id, 40)) : null,
        h("strong", {}, ` ${title} `), truncate(text, 140)));
      while (feed.childElementCount > KEEP) feed.firstElementChild.remove();
      if (!paused.checked) feed.scrollTop = feed.scrollHeight;
    },
  });
  return () => stream.stop();
}
