/* letter.js: the letterbox page (docs/letterbox.md): write a letter, show the pickup code
 * once, open a letter with its code, read the answers, write back, delete. The session
 * token is in sessionStorage only, sent only in a header; the code is never stored. */
import { T, pickLanguage, fill } from "./texts.js";
import { W } from "./letterwords.js";
import { $, el } from "./view.js";

var NEUTRAL = "https://www.dr.dk/";
var params = new URLSearchParams(location.search), lang = pickLanguage(params);
var w = W[lang], t = T[lang];
var slug = decodeURIComponent((location.pathname.match(/^\/k\/([^/]+)/) || [])[1] || "");
var key = "ungechat:brev:" + slug;
var s = { info: null, session: null, poller: null, lastEscape: 0 };

function api(method, path, body, token) {
  var headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = "Bearer " + token;
  return fetch("/api/v1" + path, {
    method, headers, cache: "no-store", credentials: "omit",
    body: body !== undefined ? JSON.stringify(body) : undefined
  }).then(r => r.json().catch(() => ({})).then(data => ({ status: r.status, data })),
    () => ({ status: 0, data: {} }));
}

function show(name) {
  ["loading", "write", "code", "open", "letter"].forEach(v => { $("v-" + v).hidden = v !== name; });
  if (name !== "letter") clearInterval(s.poller);
}
function fail(id, msg) {
  $(id).textContent = msg;
  $(id).hidden = !msg;
}
function save() {
  try { s.session ? sessionStorage.setItem(key, JSON.stringify(s.session)) : sessionStorage.removeItem(key); } catch (e) { /* private mode */ }
}
function days(name) { return (s.info && s.info.letters && s.info.letters[name]) || ""; }

function translate() {
  document.documentElement.lang = lang;
  document.title = w.title;
  for (var n of document.querySelectorAll("[data-w]")) n.textContent = w[n.dataset.w] || t[n.dataset.w] || "";
  var other = new URLSearchParams(location.search);
  other.set("lang", lang === "en" ? "da" : "en");
  var link = $("lang-link");
  link.href = location.pathname + "?" + other.toString();
  link.textContent = t.otherLang;
  link.onclick = e => { e.preventDefault(); location.replace(link.href); };
}

function renderWrite() {
  var info = s.info;
  $("service-name").textContent = info.service_name;
  $("kommune-name").textContent = info.name;
  $("write-intro").textContent = fill(w.writeIntro, { kommune: info.name, days: days("answer_days") });
  document.querySelector('[data-w="writeAnon"]').textContent =
    fill(w.writeAnon, { keep: days("keep_days_after_read"), max: days("max_age_days") });
  var box = $("questions");
  box.textContent = "";
  (info.questions || []).forEach(q => {
    var label = el("label", "q-title", q.text);
    var select = el("select");
    select.id = label.htmlFor = "q-" + q.id;
    select.dataset.q = q.id;
    select.appendChild(el("option", null, w.skip)).value = "";
    q.options.forEach(o => { select.appendChild(el("option", null, o.label)).value = o.id; });
    box.appendChild(label);
    box.appendChild(select);
  });
  show("write");
}

function sendLetter() {
  var text = $("letter-text").value;
  if (!text.trim()) return fail("write-error", w.empty);
  var answers = {};
  document.querySelectorAll("#questions select").forEach(sel => { if (sel.value) answers[sel.dataset.q] = sel.value; });
  var btn = $("send-letter");
  btn.disabled = true;
  btn.textContent = w.sending;
  fail("write-error", "");
  api("POST", "/letters", { kommune: slug, kanal: params.get("kanal"), answers, body: text }).then(r => {
    btn.disabled = false;
    btn.textContent = w.sendLetter;
    if (r.status !== 201) return fail("write-error", r.status === 0 ? w.offline : w.failed);
    $("letter-text").value = "";
    $("code").textContent = r.data.code;
    show("code");
    $("v-code").querySelector("h2").focus();
    s.code = r.data.code; // on screen until "saved" is pressed, never stored
  });
}

function openWith(code) {
  fail("open-error", "");
  return api("POST", "/letters/open", { code }).then(r => {
    if (r.status === 200) {
      s.session = { letter: r.data.letter, token: r.data.token };
      save();
      $("code-input").value = "";
      return readLetter(true);
    }
    fail("open-error", r.status === 429 ? w.tooMany : r.status === 404 ? w.wrongCode : r.status ? w.failed : w.offline);
  });
}

function path() { return "/letters/" + encodeURIComponent(s.session.letter); }

function readLetter(focus) {
  return api("GET", path(), undefined, s.session.token).then(r => {
    if (r.status === 404 || r.status === 403 || r.status === 401) return forget();
    if (r.status !== 200) return fail("reply-error", r.status ? w.failed : w.offline);
    renderLetter(r.data);
    if (focus) $("letter-title").focus();
  });
}

function renderLetter(letter) {
  show("letter");
  $("deleted").hidden = true;
  $("letter-title").textContent = w.letterTitle;
  $("letter-status").textContent = fill(letter.state === "answered" ? w.answered : w.waiting, { days: days("answer_days") });
  var list = $("letter-messages");
  list.textContent = "";
  letter.messages.forEach(m => {
    var li = el("li", "lm-" + m.from);
    var when = m.at ? new Date(m.at).toLocaleString(lang === "en" ? "en-GB" : "da-DK", { dateStyle: "short", timeStyle: "short" }) : "";
    li.appendChild(el("span", "who", (m.from === "youth" ? w.you : w.counsellor) + (when ? " · " + when : "")));
    li.appendChild(document.createTextNode(m.body));
    list.appendChild(li);
  });
  var ends = new Date(letter.expires_at).toLocaleDateString(lang === "en" ? "en-GB" : "da-DK", { day: "numeric", month: "long" });
  $("expires").textContent = fill(w.expires, { when: ends });
  clearInterval(s.poller);
  s.poller = setInterval(() => { if (!document.hidden) readLetter(false); }, 60000);
}

function sendReply() {
  var text = $("reply-text").value;
  if (!text.trim()) return;
  var btn = $("send-reply");
  btn.disabled = true;
  api("POST", path() + "/messages", { body: text }, s.session.token).then(r => {
    btn.disabled = false;
    if (r.status !== 202) return fail("reply-error", r.status ? w.failed : w.offline);
    $("reply-text").value = "";
    fail("reply-error", "");
    readLetter(false);
  });
}

function deleteLetter() {
  $("confirm-delete").hidden = true;
  api("DELETE", path(), undefined, s.session.token).then(r => {
    if (r.status !== 200 && r.status !== 404) return fail("reply-error", w.failed);
    s.session = null;
    save();
    $("letter-messages").textContent = "";
    show("letter");
    ["letter-status", "reply-text", "send-reply", "expires", "close-letter", "delete-letter"].forEach(id => { $(id).hidden = true; });
    $("deleted").hidden = false;
  });
}

function forget() {
  s.session = null;
  save();
  $("letter-messages").textContent = "";
  show("open");
}

// As on the chat page: leave for a neutral site, with nothing to go back to.
function quickExit() {
  try { sessionStorage.clear(); } catch (e) { /* nothing stored */ }
  document.title = "";
  document.body.textContent = "";
  if (window.top !== window.self) {
    parent.postMessage("ungechat:quick-exit", "*");
    if (params.get("embed") === "1") return;
  }
  location.replace(NEUTRAL);
}

function init() {
  translate();
  $("quick-exit").addEventListener("click", quickExit);
  window.addEventListener("message", e => { if (e.source === parent && e.data === "ungechat:quick-exit") quickExit(); });
  document.addEventListener("keydown", e => {
    if (e.key !== "Escape") return;
    if (Date.now() - s.lastEscape < 1500) quickExit();
    s.lastEscape = Date.now();
  });
  $("send-letter").addEventListener("click", sendLetter);
  $("have-code").addEventListener("click", () => { show("open"); $("code-input").focus(); });
  $("back-write").addEventListener("click", renderWrite);
  $("to-chat").addEventListener("click", () => location.replace(location.pathname.replace(/\/brev\/?$/, "") + location.search));
  $("code-saved").addEventListener("click", () => { var c = s.code; s.code = null; $("code").textContent = ""; openWith(c); });
  $("open-letter").addEventListener("click", () => openWith($("code-input").value));
  $("code-input").addEventListener("keydown", e => { if (e.key === "Enter") openWith($("code-input").value); });
  $("send-reply").addEventListener("click", sendReply);
  $("close-letter").addEventListener("click", () => { forget(); renderWrite(); });
  $("delete-letter").addEventListener("click", () => { $("confirm-delete").hidden = false; $("delete-no").focus(); });
  $("delete-no").addEventListener("click", () => { $("confirm-delete").hidden = true; });
  $("delete-yes").addEventListener("click", deleteLetter);
  try { s.session = JSON.parse(sessionStorage.getItem(key) || "null"); } catch (e) { s.session = null; }
  api("GET", "/kommuner/" + encodeURIComponent(slug) + "?lang=" + lang).then(r => {
    if (r.status !== 200 || !r.data.letters) {
      $("v-loading").textContent = r.status === 0 ? w.offline : t.notFound;
      return;
    }
    s.info = r.data;
    if (s.session) {
      $("service-name").textContent = s.info.service_name;
      $("kommune-name").textContent = s.info.name;
      readLetter(false);
    } else renderWrite();
  });
}

init();
