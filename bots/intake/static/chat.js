/* ungechat youth page. Plain JS, no build step, no third parties, no cookies.
 * Talks only to the intake API on this origin. Every message is shown as text
 * (textContent), never as HTML. The session token lives in sessionStorage only. */
"use strict";
(function () {
  var NEUTRAL = "https://www.dr.dk/"; // where the quick exit goes
  var T = {
    da: {
      title: "Anonym chat",
      quickExit: "Luk siden hurtigt",
      exitTip: "Kommer der nogen? Tryk på »Luk siden hurtigt« eller på Esc to gange. Så skifter siden til dr.dk, og chatten kan ikke findes med tilbage-knappen.",
      loading: "Henter chatten …",
      errorTitle: "Noget gik galt",
      tryAgain: "Prøv igen",
      notFound: "Den chat findes ikke. Tjek linket, eller spørg den, der gav dig det.",
      offline: "Der er ingen forbindelse. Tjek dit internet, og prøv igen.",
      openNow: "Åben nu",
      openUntil: "Åben nu til {when}",
      closedNow: "Lukket lige nu",
      ready: ["Ingen rådgiver er klar lige nu – du kan godt starte, så kommer du i kø.", "1 rådgiver er klar.", "{n} rådgivere er klar."],
      queued: " {n} venter allerede.",
      privacyMore: "Hvad gemmer vi?",
      privacy: "Vi gemmer ikke det, du skriver, når samtalen er slut, og vi gemmer ikke din IP-adresse. Siden bruger ingen cookies og henter intet fra andre sider. Vi tæller kun anonymt: hvornår der var en samtale, hvor længe den varede, hvilket link du kom fra (fx en plakat), hvad den overordnet handlede om (fx »familie«), dine svar på spørgsmålene og om du fik hjælp – hvis du vil svare. Mens I skriver, ligger samtalen på kommunens egen server. Den er ikke krypteret fra ende til ende.",
      privacyLaw: "Rådgiverne har tavshedspligt. Skriver du noget, der gør en rådgiver alvorligt bekymret for et barn eller en ung, har rådgiveren pligt til at handle. Så kan samtalen blive gemt i højst {days} dage, før den bliver slettet.",
      privacyTip: "Tip: Vil du være helt anonym, så skriv ikke dit fulde navn, din adresse eller din skole.",
      nextOpening: "Den åbner igen {when}.",
      noNextOpening: "Vi ved ikke endnu, hvornår den åbner igen.",
      hoursTitle: "Åbningstider",
      helpTitle: "Har du brug for hjælp nu?",
      overflowClosed: "{from} chat er lukket lige nu, men {to} chat er åben, og der er en rådgiver klar.",
      overflowNobody: "Der er ingen rådgiver klar i {from} chat lige nu, men der er en klar i {to} chat.",
      overflowMore: "Du er lige så anonym der.",
      overflowStart: "Chat med {name}",
      overflowInstead: "Chat med {name} i stedet",
      questionsNote: "Du behøver ikke svare. Svarene er anonyme og hjælper os med at nå flere unge.",
      skip: "Spring over",
      skipped: "Sprunget over",
      change: "Ændr",
      start: "Start chatten",
      starting: "Starter …",
      startClosed: "Chatten lukkede lige før, du trykkede.",
      busy: "Der er mange, der starter en samtale lige nu. Vent et øjeblik, og prøv igen.",
      unavailable: "Chatten kan ikke starte en samtale lige nu. Prøv igen om lidt.",
      failed: "Det virkede ikke. Prøv igen.",
      queueNext: "Du er den næste i køen.",
      queuePos: "Du er nummer {n} i køen.",
      queueDuty: ["Ingen rådgiver er klar lige nu, men de får besked.", "1 rådgiver er klar.", "{n} rådgivere er klar."],
      waitingWrite: "Du må gerne skrive imens – rådgiveren kan læse det hele, når de kommer ind.",
      statusWaiting: "Venter på en rådgiver …",
      statusActive: "Du chatter med en rådgiver",
      statusEnded: "Samtalen er slut",
      typing: "Rådgiveren skriver …",
      read: "Læst",
      counsellor: "Rådgiver",
      you: "Dig",
      fileNote: "Rådgiveren sendte en fil, som ikke kan vises her.",
      edited: "redigeret",
      removed: "Beskeden blev slettet.",
      end: "Afslut samtalen",
      endConfirm: "Vil du afslutte samtalen?",
      endConfirmMore: "Den bliver slettet, og du kan ikke komme tilbage til den.",
      endYes: "Ja, afslut",
      endNo: "Nej, fortsæt",
      inputLabel: "Skriv en besked",
      placeholder: "Skriv her …",
      send: "Send",
      sending: "Sender …",
      notSent: "Ikke sendt.",
      retry: "Prøv igen",
      tooLong: "Beskeden er for lang. Del den op i flere.",
      reconnecting: "Forbindelsen er væk. Prøver igen …",
      ended: {
        youth: "Du har afsluttet samtalen.",
        counsellor: "Rådgiveren har afsluttet samtalen.",
        idle: "Samtalen er slut, fordi ingen har skrevet i et stykke tid.",
        hours: "Chatten er lukket for i dag, så samtalen er slut.",
        other: "Samtalen er slut."
      },
      endedMore: "Tak, fordi du skrev. Du er altid velkommen igen – også med en lille ting.",
      feedbackQ: "Fik du hjælp?",
      fbYes: "Ja",
      fbPartly: "Lidt",
      fbNo: "Nej",
      fbThanks: "Tak for dit svar. Det er anonymt og hjælper os med at blive bedre.",
      startOver: "Start en ny samtale",
      otherLang: "English"
    },
    en: {
      title: "Anonymous chat",
      quickExit: "Leave quickly",
      exitTip: "Is someone coming? Press »Leave quickly« or Esc twice. The page switches to dr.dk, and the chat can't be found with the back button.",
      loading: "Loading the chat …",
      errorTitle: "Something went wrong",
      tryAgain: "Try again",
      notFound: "That chat does not exist. Check the link, or ask whoever gave it to you.",
      offline: "No connection. Check your internet and try again.",
      openNow: "Open now",
      openUntil: "Open now until {when}",
      closedNow: "Closed right now",
      ready: ["No counsellor is ready right now – you can still start, and you'll be in the queue.", "1 counsellor is ready.", "{n} counsellors are ready."],
      queued: " {n} already waiting.",
      privacyMore: "What do we keep?",
      privacy: "We don't keep what you write once the conversation is over, and we don't keep your IP address. The page uses no cookies and loads nothing from other sites. We only count anonymously: when there was a conversation, how long it lasted, which link you came from (e.g. a poster), roughly what it was about (e.g. “family”), your answers to the questions and whether you got help – if you want to answer. While you write, the conversation is on the municipality's own server. It is not end-to-end encrypted.",
      privacyLaw: "Counsellors have a duty of confidentiality. If you write something that makes a counsellor seriously worried about a child or young person, the counsellor must act. Then the conversation may be kept for at most {days} days before it is deleted.",
      privacyTip: "Tip: to stay completely anonymous, don't write your full name, your address or your school.",
      nextOpening: "It opens again {when}.",
      noNextOpening: "We don't know yet when it opens again.",
      hoursTitle: "Opening hours",
      helpTitle: "Do you need help right now?",
      overflowClosed: "{from} chat is closed right now, but {to} chat is open, and a counsellor is ready.",
      overflowNobody: "No counsellor is ready in {from} chat right now, but one is ready in {to} chat.",
      overflowMore: "You are just as anonymous there.",
      overflowStart: "Chat with {name}",
      overflowInstead: "Chat with {name} instead",
      questionsNote: "You don't have to answer. Answers are anonymous and help us reach more young people.",
      skip: "Skip",
      skipped: "Skipped",
      change: "Change",
      start: "Start the chat",
      starting: "Starting …",
      startClosed: "The chat closed just before you pressed start.",
      busy: "Many people are starting a conversation right now. Wait a moment and try again.",
      unavailable: "The chat cannot start a conversation right now. Try again in a little while.",
      failed: "That did not work. Try again.",
      queueNext: "You are next in the queue.",
      queuePos: "You are number {n} in the queue.",
      queueDuty: ["No counsellor is ready right now, but they will be told.", "1 counsellor is ready.", "{n} counsellors are ready."],
      waitingWrite: "You can write meanwhile – the counsellor can read it all when they join.",
      statusWaiting: "Waiting for a counsellor …",
      statusActive: "You are chatting with a counsellor",
      statusEnded: "The conversation has ended",
      typing: "The counsellor is typing …",
      read: "Read",
      counsellor: "Counsellor",
      you: "You",
      fileNote: "The counsellor sent a file that can't be shown here.",
      edited: "edited",
      removed: "The message was deleted.",
      end: "End the conversation",
      endConfirm: "Do you want to end the conversation?",
      endConfirmMore: "It will be deleted, and you cannot come back to it.",
      endYes: "Yes, end it",
      endNo: "No, continue",
      inputLabel: "Write a message",
      placeholder: "Write here …",
      send: "Send",
      sending: "Sending …",
      notSent: "Not sent.",
      retry: "Try again",
      tooLong: "The message is too long. Split it into several.",
      reconnecting: "Connection lost. Trying again …",
      ended: {
        youth: "You ended the conversation.",
        counsellor: "The counsellor has ended the conversation.",
        idle: "The conversation has ended because nobody wrote for a while.",
        hours: "The chat has closed for today, so the conversation has ended.",
        other: "The conversation has ended."
      },
      endedMore: "Thank you for writing. You are always welcome back – even with a small thing.",
      feedbackQ: "Did you get help?",
      fbYes: "Yes",
      fbPartly: "A little",
      fbNo: "No",
      fbThanks: "Thank you for your answer. It is anonymous and helps us get better.",
      startOver: "Start a new conversation",
      otherLang: "Dansk"
    }
  };

  var params = new URLSearchParams(location.search);
  var lang = pickLanguage();
  var t = T[lang];
  var slug = decodeURIComponent((location.pathname.match(/^\/k\/([^/]+)/) || [])[1] || "");
  var kanal = params.get("kanal");
  var KEY = "ungechat:" + slug;
  var API = "/api/v1";
  var embedded = window.top !== window.self;

  var info = null; // GET /kommuner/{slug}
  var answers = {}; // question id -> option id ("" = skipped)
  var step = 0; // index of the question being asked
  var session = null; // {conversation, token, helped, ended, partner}
  var stream = null; // {ctrl, lastId, timer}
  var seen = {}, tsById = {}, byId = {}; // message ids shown, when each was sent, its bubble
  var pending = []; // own messages awaiting their echo: {body, clientId, id, li}
  var early = {}; // own echoes that came before the POST answered, by id
  var status = null, endedBy = null;
  var readTs = 0; // the counsellor has read everything up to this time
  var readSent = null, lastCounsellor = null;
  var typingSentAt = 0, typingTimer = null, lastEscape = 0, poller = null, leaving = false;

  function pickLanguage() {
    var asked = params.get("lang");
    if (asked === "da" || asked === "en") return asked;
    var langs = navigator.languages || [navigator.language || ""];
    for (var i = 0; i < langs.length; i++) {
      var code = String(langs[i]).slice(0, 2).toLowerCase();
      if (code === "da" || code === "en") return code;
    }
    return "da";
  }

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function button(cls, text, onClick) {
    var b = el("button", cls, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  function fill(s, vars) {
    return s.replace(/\{(\w+)\}/g, function (_, k) { return vars[k] != null ? vars[k] : ""; });
  }
  function plural(forms, n) { return fill(forms[Math.min(n, 2)], { n: n }); }
  function text(key) {
    var own = info && info.texts && info.texts[key];
    return typeof own === "string" && own.trim() ? own : "";
  }
  function save() {
    try { sessionStorage.setItem(KEY, JSON.stringify(session)); } catch (e) { /* private mode */ }
  }
  function forget() {
    session = null;
    try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing stored */ }
  }
  // "Halsnæs Kommune" → "Halsnæs Kommunes"; a name ending in s, x or z takes only an apostrophe.
  function genitive(name) {
    if (lang === "en") return name + "'s";
    return /[sxz]$/i.test(name) ? name + "'" : name + "s";
  }

  // -- views ------------------------------------------------------------------
  function show(name) {
    ["loading", "error", "intro", "chat"].forEach(function (v) { $("view-" + v).hidden = v !== name; });
    document.body.className = "in-" + name + (embedded ? " embedded" : "");
    if (name !== "intro") clearInterval(poller);
  }
  function showError(msg) {
    $("error-text").textContent = msg;
    show("error");
  }

  function translateStatic() {
    document.documentElement.lang = lang;
    document.title = t.title;
    var nodes = document.querySelectorAll("[data-t]");
    for (var i = 0; i < nodes.length; i++) {
      var v = t[nodes[i].getAttribute("data-t")];
      if (typeof v === "string") nodes[i].textContent = v;
    }
    $("input").placeholder = t.placeholder;
    var other = new URLSearchParams(location.search);
    other.set("lang", lang === "en" ? "da" : "en");
    var link = $("lang-link");
    link.href = location.pathname + "?" + other.toString();
    link.textContent = t.otherLang;
    link.hreflang = link.lang = lang === "en" ? "da" : "en";
  }

  // Phone numbers in configured texts become tap-to-call links.
  var PHONE = /(\+45 ?)?\b(\d{2}(?: \d{2,3}){2,3}|\d{3}(?: \d{3})?|\d{8})\b/g;
  function renderHelp(box) {
    var s = text("help_now");
    var last = 0, m;
    box.textContent = "";
    PHONE.lastIndex = 0;
    while ((m = PHONE.exec(s))) {
      box.appendChild(document.createTextNode(s.slice(last, m.index)));
      var a = el("a", "tel", m[0]);
      a.href = "tel:" + m[0].replace(/ /g, "");
      box.appendChild(a);
      last = m.index + m[0].length;
    }
    box.appendChild(document.createTextNode(s.slice(last)));
  }

  // -- API --------------------------------------------------------------------
  function api(method, path, body, auth, keep) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth) headers.Authorization = "Bearer " + auth;
    return fetch(API + path, {
      method: method,
      headers: headers,
      body: body !== undefined ? JSON.stringify(body) : undefined,
      cache: "no-store",
      credentials: "omit",
      keepalive: !!keep
    }).then(function (r) {
      return r.text().then(function (raw) {
        var data = {};
        try { data = raw ? JSON.parse(raw) : {}; } catch (e) { data = {}; }
        return { status: r.status, ok: r.ok, data: data };
      });
    });
  }
  function convApi(method, what, body, keep) {
    return api(method, "/conversations/" + encodeURIComponent(session.conversation) + "/" + what, body, session.token, keep);
  }

  // Counted as a page view once per visit: not on a reload, a resumed chat or a refresh.
  function loadInfo(countView) {
    var q = "?lang=" + lang + (kanal ? "&kanal=" + encodeURIComponent(kanal) : "");
    var viewed = "ungechat:viewed:" + slug;
    try {
      if (countView && !sessionStorage.getItem(viewed)) q += "&view=1";
      sessionStorage.setItem(viewed, "1");
    } catch (e) { /* private mode: count nothing rather than twice */ }
    return api("GET", "/kommuner/" + encodeURIComponent(slug) + q).then(function (r) {
      if (r.status === 404) throw new Error(t.notFound);
      if (!r.ok) throw new Error(t.failed);
      info = r.data;
      brand(info);
      return info;
    }, function () {
      throw new Error(t.offline);
    });
  }
  function brand(m) {
    var name = m.service_name || m.name || "";
    $("service-name").textContent = name;
    var short = (m.name || "").replace(/ Kommune$/, "");
    $("kommune-name").textContent = name.indexOf(short) < 0 ? m.name : "";
    document.title = name + " – " + t.title;
  }

  // -- intro ------------------------------------------------------------------
  function renderStatus() {
    var open = !!info.open;
    $("open-status").className = "open-status " + (open ? "is-open" : "is-closed");
    $("open-text").textContent = open
      ? (info.closes_at_text ? fill(t.openUntil, { when: info.closes_at_text }) : t.openNow)
      : t.closedNow;
    var ready = open ? plural(t.ready, info.on_duty || 0) : "";
    if (open && info.waiting) ready += fill(t.queued, { n: info.waiting });
    $("ready-text").textContent = ready;
  }

  function renderIntro() {
    var open = !!info.open;
    renderStatus();
    $("privacy-law").textContent = fill(t.privacyLaw, { days: info.max_hold_days });
    $("open-status").hidden = !open; // when closed, the closed box says it
    $("intro-text").textContent = text("intro");
    var promise = text("promise");
    var cut = promise.search(/[.!]\s/) + 1;
    var pt = $("promise-text");
    pt.textContent = "";
    if (cut > 0) pt.appendChild(el("strong", "lead", promise.slice(0, cut)));
    pt.appendChild(document.createTextNode(promise.slice(cut)));
    $("closed-box").hidden = open;
    $("closed-title").textContent = text("closed");
    $("next-opening").textContent = info.next_opening_text
      ? fill(t.nextOpening, { when: info.next_opening_text })
      : t.noNextOpening;
    var hours = $("hours");
    hours.textContent = "";
    (info.hours || []).forEach(function (h) {
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
        { from: genitive(info.name), to: genitive(partner.name) });
    }
    // Closed with an open partner: the way to the partner's chat comes right after the offer.
    var view = $("view-intro"), anchor = !open && partner ? $("intro-text") : $("exit-tip");
    ["questions", "start-error", "start", "start-partner"].forEach(function (id) {
      view.insertBefore($(id), anchor);
    });
    $("help-box").hidden = open;
    renderHelp($("help-now"));
    renderHelp($("help-now-ended"));
    $("start-error").hidden = true;
    renderQuestions();
    show("intro");
    clearInterval(poller);
    poller = setInterval(refresh, 60000);
  }

  // A page left open while the chat opens, or a counsellor comes on duty, updates itself.
  function refresh() {
    if (document.hidden) return;
    var before = info;
    loadInfo(false).then(function () {
      var partnerOf = function (i) { return i.overflow && i.overflow.slug; };
      if (before.open !== info.open || partnerOf(before) !== partnerOf(info)) renderIntro();
      else renderStatus();
    }, function () { info = before; });
  }

  function renderQuestions() {
    var box = $("questions");
    box.textContent = "";
    var partner = info.overflow;
    var can = info.open || partner;
    var qs = (can && info.questions) || [];
    if (qs.length) {
      var card = el("div", "card");
      card.appendChild(el("p", "muted small", t.questionsNote));
      qs.forEach(function (q, i) {
        if (i > step) return;
        var chosen = answers[q.id];
        if (i < step) {
          var done = el("div", "answered");
          var label = chosen ? (q.options.filter(function (o) { return o.id === chosen; })[0] || {}).label : "";
          var p = el("p");
          p.appendChild(el("span", "q-text", q.text));
          p.appendChild(el("strong", chosen ? "a-text" : "a-text muted", label || t.skipped));
          done.appendChild(p);
          var change = button("btn link", t.change, function () { step = i; renderQuestions(); focusQuestion(); });
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
        q.options.forEach(function (o) {
          var b = button("btn option", o.label, function () { answer(q.id, o.id); });
          b.setAttribute("aria-pressed", chosen === o.id ? "true" : "false");
          opts.appendChild(b);
        });
        opts.appendChild(button("btn option skip", t.skip, function () { answer(q.id, ""); }));
        group.appendChild(opts);
        card.appendChild(group);
      });
      box.appendChild(card);
    }
    var ready = can && step >= qs.length;
    var start = $("start"), other = $("start-partner");
    start.hidden = !(ready && info.open);
    start.textContent = t.start;
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

  function answer(qid, oid) {
    answers[qid] = oid;
    step += 1;
    renderQuestions();
    if (step < (info.questions || []).length) focusQuestion();
    else ($("start").hidden ? $("start-partner") : $("start")).focus();
  }

  function startChat(partner) {
    var btn = partner ? $("start-partner") : $("start");
    var label = btn.textContent;
    var err = $("start-error");
    btn.disabled = true;
    btn.textContent = t.starting;
    err.hidden = true;
    var chosen = {};
    Object.keys(answers).forEach(function (k) { if (answers[k]) chosen[k] = answers[k]; });
    var body = { kommune: partner ? partner.slug : slug, kanal: kanal || null, answers: chosen };
    if (partner) body.overflow_from = slug;
    api("POST", "/conversations", body).then(function (r) {
      btn.textContent = label;
      btn.disabled = false;
      if (r.status === 201 && r.data.token) {
        session = { conversation: r.data.conversation, token: r.data.token };
        if (partner) session.partner = { name: partner.name, service_name: partner.service_name };
        save();
        openChat();
        return;
      }
      if (r.status === 409) {
        loadInfo(false).then(function () { renderIntro(); fail(t.startClosed); }, function () { fail(t.startClosed); });
        return;
      }
      fail(r.status === 429 ? t.busy : r.status === 503 ? t.unavailable : t.failed);
    }, function () {
      btn.textContent = label;
      btn.disabled = false;
      fail(t.offline);
    });
    function fail(msg) {
      err.textContent = msg;
      err.hidden = false;
    }
  }

  // -- chat -------------------------------------------------------------------
  function openChat() {
    seen = {};
    tsById = {};
    byId = {};
    endedBy = null;
    pending = [];
    early = {};
    status = null;
    readTs = 0;
    readSent = lastCounsellor = null;
    $("messages").textContent = "";
    $("confirm-end").hidden = true;
    $("ended").hidden = true;
    $("composer").hidden = false;
    $("end").hidden = false;
    $("input").value = "";
    if (session.partner) brand(session.partner);
    setStatus("waiting");
    setTyping(false);
    show("chat");
    if (session.ended) return ended(session.ended);
    connect(null, 0);
    $("input").focus();
  }

  function setStatus(s) {
    status = s;
    if (s === "active" && !session.helped) {
      session.helped = true; // a counsellor took part: "Fik du hjælp?" makes sense afterwards
      save();
    }
    $("chat-status").textContent = s === "active" ? t.statusActive : s === "closed" ? t.statusEnded : t.statusWaiting;
    $("chat-status").className = "chat-status is-" + s;
    $("waiting").hidden = s !== "waiting";
    if (s !== "active") setTyping(false);
  }

  function setQueue(q) {
    // No position while a transfer is under way: only how many are ready there.
    $("queue-text").textContent = !q.position ? "" : q.position > 1 ? fill(t.queuePos, { n: q.position }) : t.queueNext;
    $("duty-text").textContent = plural(t.queueDuty, q.on_duty || 0);
  }

  function setTyping(on) {
    var stick = nearBottom();
    $("typing").textContent = on ? t.typing : "";
    $("typing").className = on ? "typing on" : "typing";
    if (stick) toBottom();
  }

  function nearBottom() {
    var s = $("scroller");
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }
  function toBottom() {
    var s = $("scroller");
    s.scrollTop = s.scrollHeight;
  }

  function time(ts) {
    if (!ts) return "";
    var d = new Date(ts);
    var hh = String(d.getHours()).padStart(2, "0"), mm = String(d.getMinutes()).padStart(2, "0");
    return lang === "da" ? hh + "." + mm : hh + ":" + mm;
  }

  function bubble(from, body, ts) {
    var li = el("li", "msg from-" + from);
    li.appendChild(el("span", "who" + (from === "youth" ? " sr-only" : ""), from === "youth" ? t.you : t.counsellor));
    li.appendChild(el("p", "body", body));
    li.appendChild(el("span", "meta", time(ts)));
    if (ts) li.setAttribute("data-ts", ts);
    return li;
  }

  // "Læst" goes under the newest of the youth's messages the counsellor has read.
  function markRead() {
    var mine = document.querySelectorAll("#messages .from-youth[data-ts]");
    var newest = null;
    for (var i = 0; i < mine.length; i++) {
      var li = mine[i];
      li.classList.remove("is-read");
      if (readTs && Number(li.getAttribute("data-ts")) <= readTs) newest = li;
    }
    if (newest) newest.classList.add("is-read");
  }
  function meta(li, ts) {
    li.setAttribute("data-ts", ts);
    var m = li.querySelector(".meta");
    m.textContent = time(ts);
    m.setAttribute("data-read", t.read);
  }

  function confirmPending(p, m) {
    byId[m.id] = p.li;
    pending.splice(pending.indexOf(p), 1);
    p.li.classList.remove("is-pending", "is-failed");
    meta(p.li, m.ts);
    markRead();
  }

  // A correction replaces the text of the message shown; a deleted one says it was deleted.
  function edit(ev) {
    var li = byId[ev.id];
    if (!li || !li.classList.contains("from-" + ev.from) || li.classList.contains("is-removed")) return;
    li.querySelector(".body").textContent = bodyOf(ev);
    edited(li);
  }
  function edited(li) {
    li.classList.add("is-edited");
    li.querySelector(".meta").setAttribute("data-edited", t.edited);
  }
  function removed(id) {
    var li = byId[id];
    if (!li) return;
    li.classList.remove("is-edited");
    li.classList.add("is-removed");
    li.querySelector(".body").textContent = t.removed;
  }
  function bodyOf(m) { return m.key === "file" ? t.fileNote : m.body; }

  function onMessage(m) {
    if (!m.id || seen[m.id]) return;
    tsById[m.id] = m.ts;
    var stick = nearBottom();
    if (m.from === "youth") {
      var own = pending.filter(function (p) { return p.id === m.id; })[0];
      if (own) {
        seen[m.id] = true;
        return confirmPending(own, m);
      }
      // Our own echo, before the POST has told us its id: wait for that answer.
      if (pending.some(function (p) { return !p.id; })) {
        early[m.id] = m;
        return;
      }
      seen[m.id] = true;
      var li = byId[m.id] = bubble("youth", m.body, m.ts);
      meta(li, m.ts);
      insert(li);
      markRead();
    } else {
      seen[m.id] = true;
      if (m.from === "counsellor") {
        setTyping(false);
        var c = byId[m.id] = bubble("counsellor", bodyOf(m), m.ts);
        if (m.edited) edited(c);
        insert(c);
        lastCounsellor = m.id;
        sendRead();
      } else {
        insert(el("li", "msg from-system", systemText(m)));
      }
    }
    if (stick) toBottom();
  }

  function systemText(m) {
    var tpl = info && info.system && info.system[m.key];
    if (!tpl) return m.body;
    var vals = m.values || {};
    var missing = (tpl.match(/\{(\w+)\}/g) || []).some(function (p) { return vals[p.slice(1, -1)] == null; });
    return missing ? m.body : fill(tpl, vals);
  }

  // Echoed and received messages go before any still-pending ones, so order is kept.
  function insert(li) {
    var first = pending.length ? pending[0].li : null;
    $("messages").insertBefore(li, first);
  }

  function onEvent(data) {
    var ev;
    try { ev = JSON.parse(data); } catch (e) { return; }
    if (ev.type === "message") onMessage(ev);
    else if (ev.type === "edit") edit(ev);
    else if (ev.type === "removed") removed(ev.id);
    else if (ev.type === "typing") setTyping(ev.typing && status === "active");
    else if (ev.type === "read") {
      readTs = Math.max(readTs, ev.ts || tsById[ev.id] || 0);
      markRead();
    } else if (ev.type === "queue") setQueue(ev);
    else if (ev.type === "ended") endedBy = ev.by;
    else if (ev.type === "status") {
      if (ev.status === "closed") ended(endedBy || "other");
      else setStatus(ev.status);
    }
  }

  // Server-sent events over fetch(), because EventSource cannot send the token.
  function connect(lastId, attempt) {
    if (!session) return;
    var ctrl = new AbortController();
    var s = { ctrl: ctrl, lastId: lastId };
    stream = s;
    var headers = { Authorization: "Bearer " + session.token, Accept: "text/event-stream" };
    if (lastId) headers["Last-Event-ID"] = lastId;
    fetch(API + "/conversations/" + encodeURIComponent(session.conversation) + "/events", {
      headers: headers,
      cache: "no-store",
      credentials: "omit",
      signal: ctrl.signal
    }).then(function (r) {
      if (r.status === 401 || r.status === 403 || r.status === 404) {
        ended("other");
        return;
      }
      if (!r.ok || !r.body) throw new Error("stream " + r.status);
      $("conn").hidden = true;
      attempt = 0;
      var reader = r.body.getReader();
      var decoder = new TextDecoder();
      var buf = "", data = [], id = null;
      function line(l) {
        if (l === "") {
          if (id !== null) s.lastId = id;
          if (data.length) onEvent(data.join("\n"));
          data = [];
          id = null;
          return;
        }
        if (l.charAt(0) === ":") return;
        var c = l.indexOf(":");
        var field = c < 0 ? l : l.slice(0, c);
        var value = c < 0 ? "" : l.slice(c + 1);
        if (value.charAt(0) === " ") value = value.slice(1);
        if (field === "data") data.push(value);
        else if (field === "id") id = value;
      }
      function pump() {
        return reader.read().then(function (res) {
          if (stream !== s) { reader.cancel(); return; }
          if (res.done) return;
          buf += decoder.decode(res.value, { stream: true });
          var parts = buf.split(/\r\n|\r|\n/);
          buf = parts.pop();
          parts.forEach(line);
          return pump();
        });
      }
      return pump();
    }).then(function () {
      if (stream === s && status !== "closed") retry(s, attempt);
    }, function () {
      if (stream === s && status !== "closed") retry(s, attempt);
    });
  }

  function retry(s, attempt) {
    $("conn").textContent = t.reconnecting;
    $("conn").hidden = attempt < 1;
    s.timer = setTimeout(function () {
      if (stream === s) connect(s.lastId, attempt + 1);
    }, Math.min(15000, 1000 * Math.pow(2, attempt)));
  }

  function stopStream() {
    if (stream) {
      clearTimeout(stream.timer);
      stream.ctrl.abort();
      stream = null;
    }
  }

  // -- what the youth does --------------------------------------------------------
  function newClientId() {
    var a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function send(body) {
    var p = { body: body, clientId: newClientId(), li: bubble("youth", body, null) };
    p.li.classList.add("is-pending");
    p.li.querySelector(".meta").textContent = t.sending;
    $("messages").appendChild(p.li);
    pending.push(p);
    toBottom();
    post(p);
  }

  // Not taken now (503, 429) or lost on the way: tried again by itself for about a minute,
  // with the same client id (the homeserver drops a duplicate); then "Prøv igen".
  function post(p, tries) {
    if (!session || session.ended || pending.indexOf(p) < 0) return; // ended meanwhile
    tries = tries || 0;
    convApi("POST", "messages", { body: p.body, client_id: p.clientId }).then(function (r) {
      if (r.status === 202 && r.data.id) {
        p.id = r.data.id;
        var echo = early[p.id];
        if (echo) {
          delete early[p.id];
          seen[p.id] = true;
          confirmPending(p, echo);
        }
        return;
      }
      if (r.status === 404 || r.status === 409) return ended("other");
      if (r.status === 503 || r.status === 429) again(p, tries, r.data.retry_after_ms);
      else failed(p, r.data.errcode === "M_TOO_LARGE" ? t.tooLong : t.notSent);
    }, function () { again(p, tries); });
  }
  function again(p, tries, ms) {
    if (tries > 5 || pending.indexOf(p) < 0) return failed(p, t.notSent);
    setTimeout(function () { post(p, tries + 1); }, Math.max(ms || 0, 1000 << tries));
  }

  function failed(p, msg) {
    if (pending.indexOf(p) < 0) return;
    for (var id in early) {
      if (early[id].body === p.body) { // it did arrive; only the answer was lost
        seen[id] = true;
        confirmPending(p, early[id]);
        delete early[id];
        return;
      }
    }
    p.li.classList.add("is-failed");
    var m = p.li.querySelector(".meta");
    m.textContent = msg + " ";
    m.appendChild(button("btn link retry", t.retry, function () {
      p.li.classList.remove("is-failed");
      m.textContent = t.sending;
      post(p); // the same client id: the homeserver drops a duplicate
    }));
  }

  function submit() {
    var input = $("input");
    var body = input.value.replace(/\s+$/, "").replace(/^\s*\n/, "");
    if (!body.trim() || !session || status === "closed") return;
    input.value = "";
    autosize();
    typing(false);
    send(body);
  }

  function autosize() {
    var input = $("input");
    input.rows = Math.min(5, Math.max(1, input.value.split("\n").length));
  }

  // The counsellor sees "typing" while the youth types (renewed, and ended after a pause).
  function typing(on) {
    clearTimeout(typingTimer);
    if (!session || status !== "active") return;
    var now = Date.now();
    if (on) {
      typingTimer = setTimeout(function () { typing(false); }, 5000);
      if (now - typingSentAt < 15000) return;
      typingSentAt = now;
    } else {
      if (!typingSentAt) return;
      typingSentAt = 0;
    }
    convApi("PUT", "typing", { typing: on }).catch(function () { /* only a courtesy */ });
  }

  function sendRead() {
    if (!session || !lastCounsellor || lastCounsellor === readSent || document.hidden) return;
    readSent = lastCounsellor;
    convApi("POST", "read", { id: readSent }).catch(function () { readSent = null; });
  }

  function endChat() {
    $("end-yes").disabled = true;
    convApi("POST", "end", {}).then(function (r) {
      $("end-yes").disabled = false;
      if (r.ok || r.status === 404) ended("youth");
      else $("confirm-end").hidden = true;
    }, function () {
      $("end-yes").disabled = false;
      $("conn").textContent = t.offline;
      $("conn").hidden = false;
    });
  }

  // The end: the token is kept (sessionStorage) only until "Fik du hjælp?" is answered.
  function ended(by) {
    if (!session) return;
    stopStream();
    setStatus("closed");
    pending = [];
    session.ended = by;
    save();
    // Ending it oneself means "make it go away"; a goodbye from the counsellor stays to read.
    if (by === "youth" || by === "other") $("messages").textContent = "";
    $("composer").hidden = true;
    $("end").hidden = true;
    $("confirm-end").hidden = true;
    $("ended-title").textContent = t.ended[by] || t.ended.other;
    $("feedback").hidden = !session.helped;
    $("feedback-thanks").textContent = "";
    if (!session.helped) forget();
    renderHelp($("help-now-ended"));
    $("ended").hidden = false;
    $("ended-title").focus({ preventScroll: true });
    // The counsellor's last words at the top, the end right under them.
    ($("messages").lastElementChild || $("ended")).scrollIntoView({ block: "start" });
  }

  function giveFeedback(answerId) {
    if (!session) return;
    $("feedback").hidden = true;
    convApi("POST", "feedback", { answer: answerId }).then(function () {
      $("feedback-thanks").textContent = t.fbThanks;
      forget();
    }, function () {
      $("feedback").hidden = false; // offline: the buttons stay to try again
    });
  }

  function startOver() {
    forget();
    answers = {};
    step = 0;
    $("messages").textContent = "";
    show("loading");
    loadInfo(false).then(renderIntro, function (e) { showError(e.message); });
  }

  // Leaves for a neutral site and leaves no entry to go back to, nor a token to reopen the
  // chat with from the history: the conversation ends (a keepalive request outlives the
  // page). Inside an iframe on a municipal site, the embedding script takes the whole tab
  // away (see docs/youth-page.md).
  function quickExit() {
    if (leaving) return;
    leaving = true;
    if (session && !session.ended) {
      convApi("POST", "end", undefined, true).catch(function () { /* the idle timeout ends it */ });
    }
    session = null;
    try { sessionStorage.clear(); } catch (e) { /* nothing stored */ }
    stopStream();
    document.title = "";
    document.body.textContent = "";
    if (embedded) {
      parent.postMessage("ungechat:quick-exit", "*");
      if (params.get("embed") === "1") return; // embed.js takes the whole tab away
      // Framed some other way: a click may take the whole tab; else at least the chat goes.
      var act = navigator.userActivation;
      if (act && act.isActive) {
        try { top.location.replace(NEUTRAL); return; } catch (e) { /* not allowed here */ }
      }
      setTimeout(function () { location.replace("about:blank"); }, 300);
      return;
    }
    location.replace(NEUTRAL);
  }

  // -- wiring -----------------------------------------------------------------
  function init() {
    translateStatic();
    $("quick-exit").addEventListener("click", quickExit);
    // embed.js asks for it when the visitor leaves from the municipal page (Escape twice).
    window.addEventListener("message", function (e) {
      if (embedded && e.source === parent && e.data === "ungechat:quick-exit") quickExit();
    });
    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") return;
      if (Date.now() - lastEscape < 1500) quickExit();
      lastEscape = Date.now();
    });
    $("lang-link").addEventListener("click", function (e) {
      e.preventDefault(); // replace, so switching language adds nothing to the history
      location.replace(this.href);
    });
    $("retry").addEventListener("click", boot);
    $("start").addEventListener("click", function () { startChat(null); });
    $("start-partner").addEventListener("click", function () { startChat(info.overflow); });
    $("again").addEventListener("click", startOver);
    $("end").addEventListener("click", function () {
      $("confirm-end").hidden = false;
      $("end-no").focus();
    });
    $("end-no").addEventListener("click", function () {
      $("confirm-end").hidden = true;
      $("input").focus();
    });
    $("end-yes").addEventListener("click", endChat);
    $("feedback").addEventListener("click", function (e) {
      var a = e.target.getAttribute("data-answer");
      if (a) giveFeedback(a);
    });
    $("composer").addEventListener("submit", function (e) { e.preventDefault(); submit(); $("input").focus(); });
    $("input").addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    });
    $("input").addEventListener("input", function () { autosize(); typing(true); });
    function wake() {
      sendRead();
      if (stream && stream.timer && !document.hidden) {
        clearTimeout(stream.timer);
        stream.timer = null;
        connect(stream.lastId, 0);
      }
    }
    window.addEventListener("online", wake);
    document.addEventListener("visibilitychange", wake);
    boot();
  }

  function boot() {
    show("loading");
    try { session = JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch (e) { session = null; }
    if (!slug) return showError(t.notFound);
    var resumed = !!(session && session.token && session.conversation);
    loadInfo(!resumed).then(function () {
      if (resumed) openChat();
      else renderIntro();
    }, function (e) {
      if (resumed) openChat(); // the chat may still run when the info cannot load
      else showError(e.message);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
