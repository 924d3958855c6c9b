/* view.js: the DOM: views, fixed words, messages (as textContent, never HTML), status,
 * queue, typing, read marks, the end. */
import { fill, plural } from "./texts.js";

export function $(id) { return document.getElementById(id); }
export function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}
export function button(cls, text, onClick) {
  var b = el("button", cls, text);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}
export function text(s, key) {
  var own = s.info && s.info.texts && s.info.texts[key];
  return typeof own === "string" && own.trim() ? own : "";
}

export function show(s, name) {
  ["loading", "error", "intro", "chat"].forEach(v => { $("view-" + v).hidden = v !== name; });
  document.body.className = "in-" + name + (s.embedded ? " embedded" : "");
  if (name !== "intro") clearInterval(s.poller);
}
export function showError(s, msg) {
  $("error-text").textContent = msg;
  show(s, "error");
}

export function translateStatic(s) {
  var t = s.t;
  document.documentElement.lang = s.lang;
  document.title = t.title;
  for (var n of document.querySelectorAll("[data-t]")) {
    var v = t[n.getAttribute("data-t")];
    if (typeof v === "string") n.textContent = v;
  }
  $("input").placeholder = t.placeholder;
  var other = new URLSearchParams(location.search);
  other.set("lang", s.lang === "en" ? "da" : "en");
  var link = $("lang-link");
  link.href = location.pathname + "?" + other.toString();
  link.textContent = t.otherLang;
  link.hreflang = link.lang = s.lang === "en" ? "da" : "en";
}

// Phone numbers in configured texts become tap-to-call links.
var PHONE = /(\+45 ?)?\b(\d{2}(?: \d{2,3}){2,3}|\d{3}(?: \d{3})?|\d{8})\b/g;
export function renderHelp(s, box) {
  var str = text(s, "help_now");
  var last = 0, m;
  box.textContent = "";
  PHONE.lastIndex = 0;
  while ((m = PHONE.exec(str))) {
    box.appendChild(document.createTextNode(str.slice(last, m.index)));
    var a = el("a", "tel", m[0]);
    a.href = "tel:" + m[0].replace(/ /g, "");
    box.appendChild(a);
    last = m.index + m[0].length;
  }
  box.appendChild(document.createTextNode(str.slice(last)));
}

export function brand(s, m) {
  var name = m.service_name || m.name || "";
  $("service-name").textContent = name;
  var short = (m.name || "").replace(/ Kommune$/, "");
  $("kommune-name").textContent = name.indexOf(short) < 0 ? m.name : "";
  document.title = name + " – " + s.t.title;
}

export function clearChat() {
  $("messages").textContent = "";
  $("confirm-end").hidden = true;
  $("ended").hidden = true;
  $("composer").hidden = false;
  $("end").hidden = false;
  $("input").value = "";
}

export function showStatus(s, st) {
  var t = s.t;
  $("chat-status").textContent = st === "active" ? t.statusActive : st === "closed" ? t.statusEnded : t.statusWaiting;
  $("chat-status").className = "chat-status is-" + st;
  $("waiting").hidden = st !== "waiting";
  if (st !== "active") setTyping(s, false);
}

export function setQueue(s, q) {
  // No position while a transfer is under way: only how many are ready there.
  $("queue-text").textContent = !q.position ? "" : q.position > 1 ? fill(s.t.queuePos, { n: q.position }) : s.t.queueNext;
  $("duty-text").textContent = plural(s.t.queueDuty, q.on_duty || 0);
}

export function setTyping(s, on) {
  var stick = nearBottom();
  $("typing").textContent = on ? s.t.typing : "";
  $("typing").className = on ? "typing on" : "typing";
  if (stick) toBottom();
}

function nearBottom() {
  var sc = $("scroller");
  return sc.scrollHeight - sc.scrollTop - sc.clientHeight < 80;
}
function toBottom() {
  var sc = $("scroller");
  sc.scrollTop = sc.scrollHeight;
}

function time(s, ts) {
  if (!ts) return "";
  var d = new Date(ts);
  var hh = String(d.getHours()).padStart(2, "0"), mm = String(d.getMinutes()).padStart(2, "0");
  return s.lang === "da" ? hh + "." + mm : hh + ":" + mm;
}

function bubble(s, from, body, ts) {
  var li = el("li", "msg from-" + from);
  li.appendChild(el("span", "who" + (from === "youth" ? " sr-only" : ""), from === "youth" ? s.t.you : s.t.counsellor));
  li.appendChild(el("p", "body", body));
  li.appendChild(el("span", "meta", time(s, ts)));
  if (ts) li.setAttribute("data-ts", ts);
  return li;
}

// "Læst" goes under the newest of the youth's messages the counsellor has read.
export function markRead(s) {
  var newest = null;
  for (var li of document.querySelectorAll("#messages .from-youth[data-ts]")) {
    li.classList.remove("is-read");
    if (s.readTs && Number(li.getAttribute("data-ts")) <= s.readTs) newest = li;
  }
  if (newest) newest.classList.add("is-read");
}
function meta(s, li, ts) {
  li.setAttribute("data-ts", ts);
  var m = li.querySelector(".meta");
  m.textContent = time(s, ts);
  m.setAttribute("data-read", s.t.read);
}

function confirmPending(s, p, m) {
  s.byId[m.id] = p.li;
  s.pending.splice(s.pending.indexOf(p), 1);
  p.li.classList.remove("is-pending", "is-failed");
  meta(s, p.li, m.ts);
  markRead(s);
}

// A correction replaces the text of the message shown; a deleted one says it was deleted.
export function edit(s, ev) {
  var li = s.byId[ev.id];
  if (!li || !li.classList.contains("from-" + ev.from) || li.classList.contains("is-removed")) return;
  li.querySelector(".body").textContent = bodyOf(s, ev);
  edited(s, li);
}
function edited(s, li) {
  li.classList.add("is-edited");
  li.querySelector(".meta").setAttribute("data-edited", s.t.edited);
}
export function removed(s, id) {
  var li = s.byId[id];
  if (!li) return;
  li.classList.remove("is-edited");
  li.classList.add("is-removed");
  li.querySelector(".body").textContent = s.t.removed;
}
function bodyOf(s, m) { return m.key === "file" ? s.t.fileNote : m.body; }

// True for a counsellor's (to be marked read).
export function showMessage(s, m) {
  if (!m.id || s.seen[m.id]) return;
  s.tsById[m.id] = m.ts;
  var stick = nearBottom(), theirs = false;
  if (m.from === "youth") {
    var own = s.pending.find(p => p.id === m.id);
    if (own) {
      s.seen[m.id] = true;
      return confirmPending(s, own, m);
    }
    // Our own echo, before the POST has told us its id: wait for that answer.
    if (s.pending.some(p => !p.id)) {
      s.early[m.id] = m;
      return;
    }
    s.seen[m.id] = true;
    var li = s.byId[m.id] = bubble(s, "youth", m.body, m.ts);
    meta(s, li, m.ts);
    insert(s, li);
    markRead(s);
  } else {
    s.seen[m.id] = true;
    if (m.from === "counsellor") {
      setTyping(s, false);
      var c = s.byId[m.id] = bubble(s, "counsellor", bodyOf(s, m), m.ts);
      if (m.edited) edited(s, c);
      insert(s, c);
      s.lastCounsellor = m.id;
      theirs = true;
    } else {
      insert(s, el("li", "msg from-system", systemText(s, m)));
    }
  }
  if (stick) toBottom();
  return theirs;
}

function systemText(s, m) {
  var tpl = s.info && s.info.system && s.info.system[m.key];
  if (!tpl) return m.body;
  var vals = m.values || {};
  var missing = (tpl.match(/\{(\w+)\}/g) || []).some(p => vals[p.slice(1, -1)] == null);
  return missing ? m.body : fill(tpl, vals);
}

// Echoed and received messages go before any still-pending ones, so order is kept.
function insert(s, li) {
  var first = s.pending.length ? s.pending[0].li : null;
  $("messages").insertBefore(li, first);
}

export function addPending(s, p) {
  p.li = bubble(s, "youth", p.body, null);
  p.li.classList.add("is-pending");
  p.li.querySelector(".meta").textContent = s.t.sending;
  $("messages").appendChild(p.li);
  s.pending.push(p);
  toBottom();
}

export function sent(s, p, id) {
  p.id = id;
  var echo = s.early[id];
  if (echo) {
    delete s.early[id];
    s.seen[id] = true;
    confirmPending(s, p, echo);
  }
}

export function failed(s, p, msg, retry) {
  if (!s.pending.includes(p)) return;
  for (var id in s.early) {
    if (s.early[id].body === p.body) { // it did arrive; only the answer was lost
      s.seen[id] = true;
      confirmPending(s, p, s.early[id]);
      delete s.early[id];
      return;
    }
  }
  p.li.classList.add("is-failed");
  var m = p.li.querySelector(".meta");
  m.textContent = msg + " ";
  m.appendChild(button("btn link retry", s.t.retry, () => {
    p.li.classList.remove("is-failed");
    m.textContent = s.t.sending;
    retry(); // the same client id: the homeserver drops a duplicate
  }));
}

export function autosize() {
  var input = $("input");
  input.rows = Math.min(5, Math.max(1, input.value.split("\n").length));
}

export function showEnded(s, by, helped) {
  // Ending it oneself means "make it go away"; a goodbye from the counsellor stays to read.
  if (by === "youth" || by === "other") $("messages").textContent = "";
  $("composer").hidden = true;
  $("end").hidden = true;
  $("confirm-end").hidden = true;
  $("ended-title").textContent = s.t.ended[by] || s.t.ended.other;
  $("feedback").hidden = !helped;
  $("feedback-thanks").textContent = "";
  renderHelp(s, $("help-now-ended"));
  $("ended").hidden = false;
  $("ended-title").focus({ preventScroll: true });
  // The counsellor's last words at the top, the end right under them.
  ($("messages").lastElementChild || $("ended")).scrollIntoView({ block: "start" });
}
