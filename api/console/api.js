// The console's only way to the server: the public API with the pasted console JWT as a Bearer
// header. The token lives in sessionStorage (this tab only) and never goes into a URL.

const TOKEN_KEY = "agentdeck.console.token";

export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status; // 0: the server could not be reached
    this.code = code;
    this.requestId = requestId;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

let unauthorized = () => {};
/** Called with the ApiError of any 401, so the shell can return to the sign-in screen. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

function urlFor(path, query) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  return url;
}

function headers(extra) {
  return { Authorization: `Bearer ${token.get() || ""}`, ...extra };
}

function unreachable() {
  return navigator.onLine
    ? new ApiError(0, "unreachable", "The server cannot be reached.")
    : new ApiError(0, "offline", "You are offline.");
}

async function failure(response) {
  let error = {};
  try {
    error = (await response.json()).error || {};
  } catch {
    // not an agentdeck error body (a proxy's page): the status says enough
  }
  const failed = new ApiError(response.status, error.code || `http_${response.status}`,
    error.message || response.statusText || "request failed", error.request_id);
  if (response.status === 401) unauthorized(failed);
  return failed;
}

/** A JSON request; resolves to the parsed body, rejects with an ApiError. */
export async function api(path, { method = "GET", query, body, signal } = {}) {
  let response;
  try {
    response = await fetch(urlFor(path, query), {
      method,
      headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw unreachable();
  }
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** An artifact's bytes: GET /artifacts/{id} answers 302 to a short-lived signed URL, followed here. */
export async function artifactBlob(artifactId, signal) {
  let response;
  try {
    response = await fetch(urlFor(`/artifacts/${encodeURIComponent(artifactId)}`), {
      headers: headers(), signal, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw unreachable();
  }
  if (!response.ok) throw await failure(response);
  return response.blob();
}

/** Server-Sent Events parsed from a fetch() body (EventSource cannot send an Authorization header). */
export async function* sseMessages(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let message = { id: null, event: "message", data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === "") {
        if (message.data.length || message.id !== null) {
          yield { id: message.id, event: message.event, data: message.data.join("\n") };
        }
        message = { id: null, event: "message", data: [] };
        continue;
      }
      if (line.startsWith(":")) continue; // heartbeat comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") message.id = text;
      else if (field === "event") message.event = text;
      else if (field === "data") message.data.push(text);
    }
  }
}

/**
 * A followed stream: reconnects after a drop with Last-Event-ID (the last position received), so
 * the server backfills exactly what was missed. Going offline stops it; coming back resumes it.
 * `onMessage(kind, data, position)`, `onState(state, detail)` with state live|connecting|offline|
 * reconnecting|stopped, `onOpen()` once each connection is established.
 */
export class LiveStream {
  constructor({ query = {}, lastEventId = null, onMessage, onState = () => {}, onOpen = () => {}, onReset = () => {} }) {
    Object.assign(this, { query, lastEventId, onMessage, onState, onOpen, onReset });
    this.stopped = false;
    this.controller = null;
    this.wake = null;
    this.retryMs = 1000;
    this.goneOffline = () => this.controller?.abort();
    this.backOnline = () => this.wake?.();
    addEventListener("offline", this.goneOffline);
    addEventListener("online", this.backOnline);
    this.run();
  }

  stop() {
    this.stopped = true;
    removeEventListener("offline", this.goneOffline);
    removeEventListener("online", this.backOnline);
    this.controller?.abort();
    this.wake?.();
    this.onState("stopped");
  }

  pause(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => { clearTimeout(timer); resolve(); };
    });
  }

  async run() {
    let failures = 0;
    while (!this.stopped) {
      if (!navigator.onLine) {
        this.onState("offline");
        await new Promise((resolve) => { this.wake = resolve; });
        continue;
      }
      this.onState(failures ? "reconnecting" : "connecting");
      const ended = await this.connect();
      if (this.stopped || ended === "unauthorized") return;
      failures = ended === "dropped" ? failures + 1 : 0;
      if (navigator.onLine) await this.pause(Math.min(this.retryMs * 2 ** Math.min(failures, 4), 15000));
    }
  }

  /** One connection; says how it ended: closed (by the server), dropped, unauthorized. */
  async connect() {
    this.controller = new AbortController();
    const extra = this.lastEventId === null ? {} : { "Last-Event-ID": String(this.lastEventId) };
    let response;
    try {
      response = await fetch(urlFor("/api/stream", this.query), {
        headers: headers(extra), signal: this.controller.signal, credentials: "omit", cache: "no-store",
      });
    } catch {
      return "dropped";
    }
    if (!response.ok) {
      const failed = await failure(response);
      if (failed.status === 401) return "unauthorized";
      this.onState("error", failed);
      return "dropped";
    }
    this.onState("live");
    this.onOpen();
    try {
      for await (const message of sseMessages(response)) {
        const data = message.data ? JSON.parse(message.data) : {};
        if (message.event === "close") {
          if (data.reason === "token_expired" || data.reason === "credential_revoked") {
            unauthorized(new ApiError(401, data.reason, "Your token has expired."));
            return "unauthorized";
          }
          return "closed";
        }
        const position = message.id === null ? null : Number(message.id);
        if (message.event === "reset") {
          this.lastEventId = position;
          this.onReset(data);
          continue;
        }
        if (position !== null) {
          if (this.lastEventId !== null && position <= this.lastEventId) continue; // already delivered
          this.lastEventId = position;
        }
        this.onMessage(message.event, data, position);
      }
      return "closed";
    } catch {
      return "dropped";
    }
  }
}
