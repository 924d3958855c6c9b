/* api.js: the intake API on this origin: its calls and their outcomes, retries, and the
 * session token (in sessionStorage only, sent only in a header). */
var API = "/api/v1";

function api(method, path, body, auth, keep) {
  var headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) headers.Authorization = "Bearer " + auth;
  return fetch(API + path, {
    method,
    headers,
    body: body !== undefined ? JSON.stringify(body) : undefined,
    cache: "no-store",
    credentials: "omit",
    keepalive: !!keep
  }).then(r => r.text().then(raw => {
    var data = {};
    try { data = raw ? JSON.parse(raw) : {}; } catch (e) { data = {}; }
    return { status: r.status, ok: r.ok, data };
  }));
}
function path(s, what) {
  return "/conversations/" + encodeURIComponent(s.session.conversation) + "/" + what;
}
export function convApi(s, method, what, body, keep) {
  return api(method, path(s, what), body, s.session.token, keep);
}

export function restore(s) {
  try { s.session = JSON.parse(sessionStorage.getItem(s.key) || "null"); } catch (e) { s.session = null; }
}
export function save(s) {
  try { sessionStorage.setItem(s.key, JSON.stringify(s.session)); } catch (e) { /* private mode */ }
}
export function forget(s, all) {
  s.session = null;
  try { all ? sessionStorage.clear() : sessionStorage.removeItem(s.key); } catch (e) { /* nothing stored */ }
}

// Counted as a page view once per visit: not on a reload, a resumed chat or a refresh.
export function loadInfo(s, countView) {
  var q = "?lang=" + s.lang + (s.kanal ? "&kanal=" + encodeURIComponent(s.kanal) : "");
  var viewed = "ungechat:viewed:" + s.slug;
  try {
    if (countView && !sessionStorage.getItem(viewed)) q += "&view=1";
    sessionStorage.setItem(viewed, "1");
  } catch (e) { /* private mode: count nothing rather than twice */ }
  return api("GET", "/kommuner/" + encodeURIComponent(s.slug) + q).then(r => {
    if (r.status === 404) throw new Error(s.t.notFound);
    if (!r.ok) throw new Error(s.t.failed);
    return (s.info = r.data);
  }, () => {
    throw new Error(s.t.offline);
  });
}

// {conversation, token}, or {error: the key of the text saying why not}.
export function start(body) {
  return api("POST", "/conversations", body).then(r => {
    if (r.status === 201 && r.data.token) return { conversation: r.data.conversation, token: r.data.token };
    return { error: r.status === 409 ? "startClosed" : r.status === 429 ? "busy" : r.status === 503 ? "unavailable" : "failed" };
  }, () => ({ error: "offline" }));
}

// Not taken now (503, 429) or lost on the way: tried again for about a minute, with the same
// client id (the homeserver drops a duplicate). {id}, {gone}, {error}, or nothing if ended.
export function postMessage(s, p, tries) {
  if (!s.session || s.session.ended || !s.pending.includes(p)) return Promise.resolve();
  tries = tries || 0;
  return convApi(s, "POST", "messages", { body: p.body, client_id: p.clientId }).then(r => {
    if (r.status === 202 && r.data.id) return { id: r.data.id };
    if (r.status === 404 || r.status === 409) return { gone: true };
    if (r.status === 503 || r.status === 429) return again(s, p, tries, r.data.retry_after_ms);
    return { error: r.data.errcode === "M_TOO_LARGE" ? "tooLong" : "notSent" };
  }, () => again(s, p, tries));
}
function again(s, p, tries, ms) {
  if (tries > 5 || !s.pending.includes(p)) return { error: "notSent" };
  return new Promise(ok => setTimeout(ok, Math.max(ms || 0, 1000 << tries)))
    .then(() => postMessage(s, p, tries + 1));
}

// The event stream, by fetch(): EventSource cannot send the token.
export function events(s, lastId, signal) {
  var headers = { Authorization: "Bearer " + s.session.token, Accept: "text/event-stream" };
  if (lastId) headers["Last-Event-ID"] = lastId;
  return fetch(API + path(s, "events"), { headers, cache: "no-store", credentials: "omit", signal });
}
