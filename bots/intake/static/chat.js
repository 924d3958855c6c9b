/* chat.js: the entry point: the state all modules are handed, the controls wired to them,
 * the quick exit. No build step, no third parties, no cookies. */
import { T, pickLanguage } from "./texts.js";
import { convApi, restore, forget } from "./api.js";
import { stop, wake } from "./stream.js";
import { $, autosize, show, showError, translateStatic } from "./view.js";
import { fresh, openChat, submit, typing, sendRead, endChat, giveFeedback } from "./conversation.js";
import { load, renderIntro, startChat } from "./intro.js";

var NEUTRAL = "https://www.dr.dk/"; // where the quick exit goes

// Everything the page knows and changes, in one place.
function state() {
  var params = new URLSearchParams(location.search), lang = pickLanguage(params);
  var slug = decodeURIComponent((location.pathname.match(/^\/k\/([^/]+)/) || [])[1] || "");
  return Object.assign({
    params, lang, t: T[lang], slug, kanal: params.get("kanal"), key: "ungechat:" + slug,
    embedded: window.top !== window.self,
    info: null, // GET /kommuner/{slug}
    answers: {}, // question id -> option id ("" = skipped)
    step: 0, // index of the question being asked
    session: null, // {conversation, token, helped, ended, partner}
    stream: null, // {ctrl, lastId, timer, on}
    typingSentAt: 0, typingTimer: null, lastEscape: 0, poller: null, leaving: false
  }, fresh());
}

function boot(s) {
  show(s, "loading");
  restore(s);
  if (!s.slug) return showError(s, s.t.notFound);
  var resumed = !!(s.session && s.session.token && s.session.conversation);
  load(s, !resumed).then(() => {
    if (resumed) openChat(s);
    else renderIntro(s);
  }, e => {
    if (resumed) openChat(s); // the chat may still run when the info cannot load
    else showError(s, e.message);
  });
}

function startOver(s) {
  forget(s);
  s.answers = {};
  s.step = 0;
  $("messages").textContent = "";
  show(s, "loading");
  load(s, false).then(() => renderIntro(s), e => showError(s, e.message));
}

// Leaves for a neutral site and leaves no entry to go back to, nor a token to reopen the
// chat with from the history: the conversation ends (a keepalive request outlives the
// page). Inside an iframe on a municipal site, the embedding script takes the whole tab
// away (see docs/youth-page.md).
function quickExit(s) {
  if (s.leaving) return;
  s.leaving = true;
  if (s.session && !s.session.ended) {
    convApi(s, "POST", "end", undefined, true).catch(() => { /* the idle timeout ends it */ });
  }
  forget(s, true);
  stop(s);
  document.title = "";
  document.body.textContent = "";
  if (s.embedded) {
    parent.postMessage("ungechat:quick-exit", "*");
    if (s.params.get("embed") === "1") return; // embed.js takes the whole tab away
    // Framed some other way: a click may take the whole tab; else at least the chat goes.
    var act = navigator.userActivation;
    if (act && act.isActive) {
      try { top.location.replace(NEUTRAL); return; } catch (e) { /* not allowed here */ }
    }
    setTimeout(() => location.replace("about:blank"), 300);
    return;
  }
  location.replace(NEUTRAL);
}

function init(s) {
  translateStatic(s);
  $("quick-exit").addEventListener("click", () => quickExit(s));
  // embed.js asks for it when the visitor leaves from the municipal page (Escape twice).
  window.addEventListener("message", e => {
    if (s.embedded && e.source === parent && e.data === "ungechat:quick-exit") quickExit(s);
  });
  document.addEventListener("keydown", e => {
    if (e.key !== "Escape") return;
    if (Date.now() - s.lastEscape < 1500) quickExit(s);
    s.lastEscape = Date.now();
  });
  $("lang-link").addEventListener("click", function (e) {
    e.preventDefault(); // replace, so switching language adds nothing to the history
    location.replace(this.href);
  });
  $("retry").addEventListener("click", () => boot(s));
  $("start").addEventListener("click", () => startChat(s, null));
  $("start-partner").addEventListener("click", () => startChat(s, s.info.overflow));
  $("again").addEventListener("click", () => startOver(s));
  $("end").addEventListener("click", () => {
    $("confirm-end").hidden = false;
    $("end-no").focus();
  });
  $("end-no").addEventListener("click", () => {
    $("confirm-end").hidden = true;
    $("input").focus();
  });
  $("end-yes").addEventListener("click", () => endChat(s));
  $("feedback").addEventListener("click", e => {
    var a = e.target.getAttribute("data-answer");
    if (a) giveFeedback(s, a);
  });
  $("composer").addEventListener("submit", e => { e.preventDefault(); submit(s); $("input").focus(); });
  $("input").addEventListener("keydown", e => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit(s);
    }
  });
  $("input").addEventListener("input", () => { autosize(); typing(s, true); });
  function awake() {
    sendRead(s);
    wake(s);
  }
  window.addEventListener("online", awake);
  document.addEventListener("visibilitychange", awake);
  boot(s);
}

init(state()); // a module runs once the page is parsed, as the deferred script did
