/* intro.js: the start page: open or closed, the hours, a partner's offer, the questions. */
import { fill, plural, genitive } from "./texts.js";
import { loadInfo, start, save } from "./api.js";
import { $, el, button, text, show, brand, renderHelp } from "./view.js";
import { openChat } from "./conversation.js";

// The municipality's info, and its name in the header.
export function load(s, countView) {
  return loadInfo(s, countView).then(info => {
    brand(s, info);
    return info;
  });
}

function renderStatus(s) {
  var t = s.t, info = s.info, open = !!info.open;
  $("open-status").className = "open-status " + (open ? "is-open" : "is-closed");
  $("open-text").textContent = open
    ? (info.closes_at_text ? fill(t.openUntil, { when: info.closes_at_text }) : t.openNow)
    : t.closedNow;
  var ready = open ? plural(t.ready, info.on_duty || 0) : "";
  if (open && info.waiting) ready += fill(t.queued, { n: info.waiting });
  $("ready-text").textContent = ready;
}

export function renderIntro(s) {
  var t = s.t, info = s.info, open = !!info.open;
  renderStatus(s);
  $("privacy-law").textContent = fill(t.privacyLaw, { days: info.max_hold_days });
  $("open-status").hidden = !open; // when closed, the closed box says it
  $("intro-text").textContent = text(s, "intro");
  var promise = text(s, "promise");
  var cut = promise.search(/[.!]\s/) + 1;
  var pt = $("promise-text");
  pt.textContent = "";
  if (cut > 0) pt.appendChild(el("strong", "lead", promise.slice(0, cut)));
  pt.appendChild(document.createTextNode(promise.slice(cut)));
  $("closed-box").hidden = open;
  $("closed-title").textContent = text(s, "closed");
  $("next-opening").textContent = info.next_opening_text
    ? fill(t.nextOpening, { when: info.next_opening_text })
    : t.noNextOpening;
  var hours = $("hours");
  hours.textContent = "";
  (info.hours || []).forEach(h => {
    var li = el("li");
    li.appendChild(el("span", null, h.day));
    li.appendChild(el("span", null, h.hours));
    hours.appendChild(li);
  });
  hours.previousElementSibling.hidden = hours.hidden = !hours.childNodes.length;
  var partner = info.overflow;
  $("overflow").hidden = !partner;
  if (partner) {
    $("overflow-text").textContent = fill(open ? t.overflowNobody : t.overflowClosed,
      { from: genitive(s.lang, info.name), to: genitive(s.lang, partner.name) });
  }
  // Closed with an open partner: the way to the partner's chat comes right after the offer.
  var view = $("view-intro"), anchor = !open && partner ? $("intro-text") : $("exit-tip");
  ["questions", "start-error", "start", "start-partner"].forEach(id => {
    view.insertBefore($(id), anchor);
  });
  var box = $("letter-box"); // the letterbox: always, first when closed
  box.hidden = !info.letter_days;
  $("letter-offer").textContent = fill(text(s, "letter_offer"), { days: info.letter_days });
  $("letter-go").textContent = text(s, "letter_go");
  $("letter-go").onclick = () => location.replace(location.pathname.replace(/\/?$/, "/brev") + location.search);
  view.insertBefore(box, open ? $("exit-tip") : $("closed-box").nextSibling);
  $("help-box").hidden = open;
  renderHelp(s, $("help-now"));
  renderHelp(s, $("help-now-ended"));
  $("start-error").hidden = true;
  renderQuestions(s);
  show(s, "intro");
  clearInterval(s.poller);
  s.poller = setInterval(() => refresh(s), 60000);
}

// A page left open while the chat opens, or a counsellor comes on duty, updates itself.
function refresh(s) {
  if (document.hidden) return;
  var before = s.info;
  load(s, false).then(() => {
    var partnerOf = i => i.overflow && i.overflow.slug;
    if (before.open !== s.info.open || partnerOf(before) !== partnerOf(s.info)) renderIntro(s);
    else renderStatus(s);
  }, () => { s.info = before; });
}

function renderQuestions(s) {
  var t = s.t, info = s.info;
  var box = $("questions");
  box.textContent = "";
  var partner = info.overflow;
  var can = info.open || partner;
  var qs = (can && info.questions) || [];
  if (qs.length) {
    var card = el("div", "card");
    card.appendChild(el("p", "muted small", t.questionsNote));
    qs.forEach((q, i) => {
      if (i > s.step) return;
      var chosen = s.answers[q.id];
      if (i < s.step) {
        var done = el("div", "answered");
        var label = chosen ? (q.options.find(o => o.id === chosen) || {}).label : "";
        var p = el("p");
        p.appendChild(el("span", "q-text", q.text));
        p.appendChild(el("strong", chosen ? "a-text" : "a-text muted", label || t.skipped));
        done.appendChild(p);
        var change = button("btn link", t.change, () => { s.step = i; renderQuestions(s); focusQuestion(); });
        change.setAttribute("aria-label", t.change + ": " + q.text);
        done.appendChild(change);
        card.appendChild(done);
        return;
      }
      var group = el("div", "question");
      group.setAttribute("role", "group");
      var h = el("p", "q-title", q.text);
      h.id = "q-" + i;
      h.tabIndex = -1;
      group.setAttribute("aria-labelledby", h.id);
      group.appendChild(h);
      var opts = el("div", "options");
      q.options.forEach(o => {
        var b = button("btn option", o.label, () => answer(s, q.id, o.id));
        b.setAttribute("aria-pressed", chosen === o.id ? "true" : "false");
        opts.appendChild(b);
      });
      opts.appendChild(button("btn option skip", t.skip, () => answer(s, q.id, "")));
      group.appendChild(opts);
      card.appendChild(group);
    });
    box.appendChild(card);
  }
  var ready = can && s.step >= qs.length;
  var go = $("start"), other = $("start-partner");
  go.hidden = !(ready && info.open);
  go.textContent = t.start;
  other.hidden = !(ready && partner);
  if (partner) {
    other.textContent = fill(info.open ? t.overflowInstead : t.overflowStart, { name: partner.name });
    other.className = "btn big" + (info.open ? "" : " primary");
  }
}

function focusQuestion() {
  var h = document.querySelector(".question .q-title");
  if (h) h.focus();
}

function answer(s, qid, oid) {
  s.answers[qid] = oid;
  s.step += 1;
  renderQuestions(s);
  if (s.step < (s.info.questions || []).length) focusQuestion();
  else ($("start").hidden ? $("start-partner") : $("start")).focus();
}

export function startChat(s, partner) {
  var t = s.t;
  var btn = partner ? $("start-partner") : $("start");
  var label = btn.textContent;
  var err = $("start-error");
  btn.disabled = true;
  btn.textContent = t.starting;
  err.hidden = true;
  var chosen = {};
  Object.keys(s.answers).forEach(k => { if (s.answers[k]) chosen[k] = s.answers[k]; });
  var body = { kommune: partner ? partner.slug : s.slug, kanal: s.kanal || null, answers: chosen };
  if (partner) body.overflow_from = s.slug;
  start(body).then(r => {
    btn.textContent = label;
    btn.disabled = false;
    if (!r.error) {
      s.session = r;
      if (partner) s.session.partner = { name: partner.name, service_name: partner.service_name };
      save(s);
      openChat(s);
      return;
    }
    if (r.error === "startClosed") {
      load(s, false).then(() => { renderIntro(s); fail(t.startClosed); }, () => fail(t.startClosed));
      return;
    }
    fail(t[r.error]);
  });
  function fail(msg) {
    err.textContent = msg;
    err.hidden = false;
  }
}
