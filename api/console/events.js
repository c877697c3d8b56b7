// How each event type reads: a one-line summary for the timeline and a readable detail view.

import { artifactBlob } from "./api.js";
import { h, json, truncate } from "./dom.js";

/** Whether an event reports a failure (highlighted in red wherever it appears). */
export function isError(event) {
  const p = event.payload || {};
  switch (event.type) {
    case "error": return true;
    case "tool.result": return p.status === "error";
    case "llm.response": return Boolean(p.error);
    case "assertion": return p.passed === false;
    case "session.end": return p.outcome === "failure" || p.outcome === "error";
    case "log": return ["error", "critical", "fatal"].includes(String(p.level).toLowerCase());
    default: return Boolean(p.error);
  }
}

function text(content) {
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => (typeof part === "string" ? part : part.text ?? json(part))).join("\n");
  return content.text ?? json(content);
}

function responseText(p) {
  if (p.content !== undefined) return text(p.content);
  if (p.text !== undefined) return text(p.text);
  if (p.message) return text(p.message.content ?? p.message);
  if (p.output !== undefined) return text(p.output);
  if (Array.isArray(p.choices) && p.choices[0]) return text(p.choices[0].message?.content ?? p.choices[0].text);
  return "";
}

function errorText(error) {
  if (!error) return "";
  return [error.type, error.code, error.message].filter((v) => v !== undefined && v !== null && v !== "").join(" · ");
}

export function toolOf(event) {
  return event.payload?.tool ?? null;
}

export function summary(event) {
  const p = event.payload || {};
  switch (event.type) {
    case "llm.request": {
      const last = Array.isArray(p.messages) ? p.messages[p.messages.length - 1] : null;
      return `${p.model ?? ""} ← ${truncate(last ? text(last.content) : "", 100)}`;
    }
    case "llm.response": return p.error ? `${p.model ?? ""} ✕ ${errorText(p.error)}` : `${p.model ?? ""} → ${truncate(responseText(p), 100)}`;
    case "tool.call": return `${p.tool}(${truncate(typeof p.arguments === "string" ? p.arguments : JSON.stringify(p.arguments ?? {}), 90)})`;
    case "tool.result": return p.status === "error" ? `${p.tool} ✕ ${errorText(p.error)}` : `${p.tool} ✓ ${truncate(json(p.result ?? p.output ?? ""), 90)}`;
    case "error": return errorText(p);
    case "log": return `[${p.level}] ${truncate(p.message)}`;
    case "assertion": return p.passed ? "assertion passed" : `assertion failed: expected ${truncate(json(p.expected), 50)}, got ${truncate(json(p.actual), 50)}`;
    case "browser.navigation": return p.url;
    case "browser.action": return `${p.action} ${p.selector ?? p.target ?? ""}`;
    case "artifact": return `${p.kind ?? "artifact"} ${p.artifact_id}`;
    case "session.end": return `outcome: ${p.outcome}${p.reason ? ` — ${truncate(p.reason, 80)}` : ""}`;
    default: return event.name ?? truncate(JSON.stringify(p), 120);
  }
}

function field(label, value) {
  return h("div", { class: "field" }, h("span", { class: "field-label" }, label), h("span", {}, value));
}

function block(label, value, kind = "") {
  return h("section", { class: `block ${kind}` }, h("h4", {}, label), h("pre", {}, json(value)));
}

function bubble(role, content, extra) {
  return h("div", { class: `bubble role-${String(role).replace(/[^a-z_]/gi, "")}` },
    h("div", { class: "bubble-role" }, role), h("div", { class: "bubble-text" }, text(content)), extra);
}

function toolCalls(calls) {
  if (!Array.isArray(calls) || !calls.length) return null;
  return h("div", { class: "tool-calls" }, calls.map((call) => {
    const fn = call.function || call;
    return h("div", { class: "tool-call" }, h("strong", {}, `⚙ ${fn.name ?? fn.tool ?? "tool"}`),
      h("pre", {}, json(typeof fn.arguments === "string" ? safeParse(fn.arguments) : fn.arguments ?? fn.input ?? {})));
  }));
}

function safeParse(value) {
  try { return JSON.parse(value); } catch { return value; }
}

function conversation(p) {
  const messages = Array.isArray(p.messages) ? p.messages : [];
  return h("div", { class: "conversation" }, messages.map((m) =>
    bubble(m.role ?? "message", m.content, toolCalls(m.tool_calls))));
}

function screenshot(p) {
  const holder = h("div", { class: "artifact" }, h("p", { class: "muted" }, "Loading artifact…"));
  artifactBlob(p.artifact_id).then((blob) => {
    const url = URL.createObjectURL(blob);
    holder.replaceChildren(blob.type.startsWith("image/")
      ? h("img", { src: url, alt: `screenshot ${p.artifact_id}`, class: "screenshot", dataset: { artifact: p.artifact_id } })
      : h("a", { href: url, download: p.artifact_id }, `Download ${p.artifact_id} (${blob.type}, ${blob.size} bytes)`));
  }, (error) => {
    holder.replaceChildren(h("p", { class: "error-text" }, `Artifact unavailable: ${error.message}`));
  });
  return holder;
}

/** The readable body of one event, by type; the raw payload is always one click away. */
export function detail(event) {
  const p = event.payload || {};
  const parts = [];
  switch (event.type) {
    case "llm.request":
      parts.push(field("model", p.model ?? "—"), conversation(p));
      break;
    case "llm.response":
      parts.push(field("model", p.model ?? "—"));
      if (p.usage) parts.push(field("usage", Object.entries(p.usage).map(([k, v]) => `${k} ${v}`).join(", ")));
      if (p.error) parts.push(block("error", p.error, "error"));
      else parts.push(bubble("assistant", responseText(p), toolCalls(p.tool_calls ?? p.message?.tool_calls)));
      break;
    case "tool.call":
      parts.push(field("tool", p.tool), block("arguments", typeof p.arguments === "string" ? safeParse(p.arguments) : p.arguments));
      break;
    case "tool.result":
      parts.push(field("tool", p.tool), field("status", p.status));
      if (p.error) parts.push(block("error", p.error, "error"));
      if (p.result !== undefined || p.output !== undefined) parts.push(block("result", p.result ?? p.output));
      break;
    case "assertion":
      parts.push(field("passed", String(p.passed)), block("expected", p.expected ?? null), block("actual", p.actual ?? null, p.passed ? "" : "error"));
      break;
    case "error":
      parts.push(block("error", p, "error"));
      break;
    case "artifact":
      parts.push(field("artifact", p.artifact_id), screenshot(p));
      break;
    case "log":
      parts.push(field("level", p.level), h("pre", { class: isError(event) ? "error-text" : "" }, String(p.message)));
      break;
    case "session.start":
      if (Array.isArray(p.tools)) parts.push(field("tools", p.tools.map((t) => (typeof t === "string" ? t : t.name ?? t.function?.name)).join(", ")));
      break;
    case "session.end":
      parts.push(field("outcome", p.outcome));
      if (p.reason) parts.push(field("reason", p.reason));
      if (p.error) parts.push(block("error", p.error, "error"));
      break;
    case "browser.navigation":
      parts.push(field("url", p.url));
      break;
    case "browser.action":
      parts.push(field("action", p.action));
      for (const key of ["selector", "target", "value", "text"]) if (p[key] !== undefined) parts.push(field(key, json(p[key])));
      break;
    default:
      break;
  }
  parts.push(h("details", { class: "raw" }, h("summary", {}, "Raw payload"), h("pre", {}, json(p))));
  return parts;
}
