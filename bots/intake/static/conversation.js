/* conversation.js: one conversation: open or resume it, its events, sending, typing,
 * read marks, the end and feedback. */
import { convApi, postMessage, save, forget } from "./api.js";
import { connect, stop } from "./stream.js";
import {
  $, brand, show, clearChat, showStatus, setQueue, setTyping, showMessage, edit, removed,
  markRead, addPending, sent, failed, autosize, showEnded
} from "./view.js";

// What the page knows of the conversation it shows; new for each one.
export function fresh() {
  return {
    seen: {}, tsById: {}, byId: {}, // message ids shown, when each was sent, its bubble
    pending: [], // own messages awaiting their echo: {body, clientId, id, li}
    early: {}, // own echoes that came before the POST answered, by id
    status: null, endedBy: null, readSent: null, lastCounsellor: null,
    readTs: 0 // the counsellor has read everything up to this time
  };
}

export function openChat(s) {
  Object.assign(s, fresh());
  clearChat();
  if (s.session.partner) brand(s, s.session.partner);
  setStatus(s, "waiting");
  setTyping(s, false);
  show(s, "chat");
  if (s.session.ended) return ended(s, s.session.ended);
  connect(s, handlers(s), null, 0);
  $("input").focus();
}

function setStatus(s, st) {
  s.status = st;
  if (st === "active" && !s.session.helped) {
    s.session.helped = true; // a counsellor took part: "Fik du hjælp?" makes sense afterwards
    save(s);
  }
  showStatus(s, st);
}

function handlers(s) {
  return {
    events: {
      message: m => { if (showMessage(s, m)) sendRead(s); },
      edit: ev => edit(s, ev),
      removed: ev => removed(s, ev.id),
      typing: ev => setTyping(s, ev.typing && s.status === "active"),
      read: ev => {
        s.readTs = Math.max(s.readTs, ev.ts || s.tsById[ev.id] || 0);
        markRead(s);
      },
      queue: ev => setQueue(s, ev),
      ended: ev => { s.endedBy = ev.by; },
      status: ev => {
        if (ev.status === "closed") ended(s, s.endedBy || "other");
        else setStatus(s, ev.status);
      }
    },
    gone: () => ended(s, "other"),
    up: () => { $("conn").hidden = true; },
    down: attempt => {
      $("conn").textContent = s.t.reconnecting;
      $("conn").hidden = attempt < 1;
    }
  };
}

function newClientId() {
  var a = new Uint8Array(12);
  crypto.getRandomValues(a);
  return Array.from(a, b => ("0" + b.toString(16)).slice(-2)).join("");
}

export function submit(s) {
  var input = $("input");
  var body = input.value.replace(/\s+$/, "").replace(/^\s*\n/, "");
  if (!body.trim() || !s.session || s.status === "closed") return;
  input.value = "";
  autosize();
  typing(s, false);
  var p = { body: body, clientId: newClientId() };
  addPending(s, p);
  post(s, p);
}

function post(s, p) {
  postMessage(s, p).then(r => {
    if (!r) return;
    if (r.id) sent(s, p, r.id);
    else if (r.gone) ended(s, "other");
    else failed(s, p, s.t[r.error], () => post(s, p));
  });
}

// The counsellor sees "typing" while the youth types (renewed, and ended after a pause).
export function typing(s, on) {
  clearTimeout(s.typingTimer);
  if (!s.session || s.status !== "active") return;
  var now = Date.now();
  if (on) {
    s.typingTimer = setTimeout(() => typing(s, false), 5000);
    if (now - s.typingSentAt < 15000) return;
    s.typingSentAt = now;
  } else {
    if (!s.typingSentAt) return;
    s.typingSentAt = 0;
  }
  convApi(s, "PUT", "typing", { typing: on }).catch(() => { /* only a courtesy */ });
}

export function sendRead(s) {
  if (!s.session || !s.lastCounsellor || s.lastCounsellor === s.readSent || document.hidden) return;
  s.readSent = s.lastCounsellor;
  convApi(s, "POST", "read", { id: s.readSent }).catch(() => { s.readSent = null; });
}

export function endChat(s) {
  $("end-yes").disabled = true;
  convApi(s, "POST", "end", {}).then(r => {
    $("end-yes").disabled = false;
    if (r.ok || r.status === 404) ended(s, "youth");
    else $("confirm-end").hidden = true;
  }, () => {
    $("end-yes").disabled = false;
    $("conn").textContent = s.t.offline;
    $("conn").hidden = false;
  });
}

// The end: the token is kept (sessionStorage) only until "Fik du hjælp?" is answered.
function ended(s, by) {
  if (!s.session) return;
  stop(s);
  setStatus(s, "closed");
  s.pending = [];
  s.session.ended = by;
  save(s);
  var helped = s.session.helped;
  if (!helped) forget(s);
  showEnded(s, by, helped);
}

export function giveFeedback(s, answerId) {
  if (!s.session) return;
  $("feedback").hidden = true;
  convApi(s, "POST", "feedback", { answer: answerId }).then(() => {
    $("feedback-thanks").textContent = s.t.fbThanks;
    forget(s);
  }, () => {
    $("feedback").hidden = false; // offline: the buttons stay to try again
  });
}
