/* ungechat youth page. Plain JS, no build step, no third parties, no cookies.
 * Talks only to the intake API on this origin. Every message is shown as text
 * (textContent), never as HTML. The session token lives in sessionStorage only. */
"use strict";
(function () {
  var T = {
    da: {
      title: "Anonym chat",
      quickExit: "Luk siden hurtigt",
      loading: "Henter chatten …",
      errorTitle: "Noget gik galt",
      tryAgain: "Prøv igen",
      notFound: "Den chat findes ikke. Tjek linket, eller spørg den, der gav dig det.",
      offline: "Der er ingen forbindelse. Tjek dit internet, og prøv igen.",
      openNow: "Åben nu – en rådgiver kan chatte med dig",
      closedNow: "Lukket lige nu",
      intro: "Her kan du chatte anonymt med en ungerådgiver fra {kommune}. Du kan skrive om alt – store og små ting.",
      promiseTitle: "Du er anonym",
      promise: "Du er anonym. Du skal ikke oprette en profil eller skrive dit navn, og vi kan ikke se, hvem du er. Rådgiveren ser kun det, du skriver. Når samtalen slutter, bliver den slettet.",
      privacyMore: "Hvad gemmer vi?",
      privacy: "Vi gemmer ikke det, du skriver, når samtalen er slut. Vi gemmer ikke din IP-adresse, og siden bruger ingen cookies. Vi tæller kun anonymt: hvornår der var en samtale, hvor længe den varede, hvilken slags link du kom fra (fx en plakat), hvad samtalen overordnet handlede om (fx »familie«) og dine svar på spørgsmålene herunder, hvis du svarer. Mens I skriver, ligger samtalen på kommunens egen server – den er ikke krypteret fra ende til ende.",
      privacyTip: "Tip: Hvis du vil være helt anonym, så skriv ikke dit fulde navn, din adresse eller din skole.",
      closedTitle: "Chatten er lukket lige nu",
      nextOpening: "Den åbner igen {when}.",
      noNextOpening: "Vi ved ikke endnu, hvornår den åbner igen.",
      helpTitle: "Har du brug for hjælp nu?",
      help: [
        ["Er det akut, så ring ", "112", "."],
        ["BørneTelefonen (gratis, hele døgnet, hvis du er under 18): ", "116 111", ""],
        ["Livslinien, hvis du tænker på selvmord: ", "70 201 201", ""]
      ],
      questionsTitle: "Et par spørgsmål, før du starter",
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
      waiting: "Du er i kø. En rådgiver kommer ind i samtalen, så snart der er en ledig. Du må gerne begynde at skrive imens.",
      statusWaiting: "Venter på en rådgiver …",
      statusActive: "Du chatter med en rådgiver",
      counsellor: "Rådgiver",
      you: "Dig",
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
      closedChat: "Samtalen er slut og slettet.",
      closedChatMore: "Tak, fordi du skrev. Du er altid velkommen igen – også hvis det bare er en lille ting.",
      startOver: "Start en ny samtale",
      otherLang: "English",
      sys: {
        counsellor_joined: "En rådgiver er kommet ind i samtalen. Du kan skrive løs.",
        waiting: "Du er i kø. En rådgiver kommer ind i samtalen, så snart der er en ledig."
      }
    },
    en: {
      title: "Anonymous chat",
      quickExit: "Leave quickly",
      loading: "Loading the chat …",
      errorTitle: "Something went wrong",
      tryAgain: "Try again",
      notFound: "That chat does not exist. Check the link, or ask whoever gave it to you.",
      offline: "No connection. Check your internet and try again.",
      openNow: "Open now – a counsellor can chat with you",
      closedNow: "Closed right now",
      intro: "Here you can chat anonymously with a youth counsellor from {kommune}. You can write about anything – big or small.",
      promiseTitle: "You are anonymous",
      promise: "You are anonymous. You don't need a profile or your name, and we cannot see who you are. The counsellor only sees what you write. When the conversation ends, it is deleted.",
      privacyMore: "What do we keep?",
      privacy: "We do not keep what you write once the conversation is over. We do not keep your IP address, and the page uses no cookies. We only count anonymously: when there was a conversation, how long it lasted, what kind of link you came from (e.g. a poster), roughly what it was about (e.g. “family”) and your answers to the questions below, if you answer. While you write, the conversation is on the municipality's own server – it is not end-to-end encrypted.",
      privacyTip: "Tip: to stay completely anonymous, don't write your full name, your address or your school.",
      closedTitle: "The chat is closed right now",
      nextOpening: "It opens again {when}.",
      noNextOpening: "We don't know yet when it opens again.",
      helpTitle: "Do you need help right now?",
      help: [
        ["In an emergency, call ", "112", "."],
        ["BørneTelefonen, the child helpline (free, day and night, if you are under 18): ", "116 111", ""],
        ["Livslinien, if you are thinking about suicide: ", "70 201 201", ""]
      ],
      questionsTitle: "A couple of questions before you start",
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
      waiting: "You are in the queue. A counsellor will join as soon as one is free. You can start writing meanwhile.",
      statusWaiting: "Waiting for a counsellor …",
      statusActive: "You are chatting with a counsellor",
      counsellor: "Counsellor",
      you: "You",
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
      closedChat: "The conversation is over and deleted.",
      closedChatMore: "Thank you for writing. You are always welcome back – even if it's just a small thing.",
      startOver: "Start a new conversation",
      otherLang: "Dansk",
      sys: {
        counsellor_joined: "A counsellor has joined the conversation. Go ahead and write.",
        waiting: "You are in the queue. A counsellor will join as soon as one is free."
      }
    }
  };

  var params = new URLSearchParams(location.search);
  var lang = params.get("lang") === "en" ? "en" : "da";
  var t = T[lang];
  var slug = decodeURIComponent((location.pathname.match(/^\/k\/([^/]+)/) || [])[1] || "");
  var kanal = params.get("kanal");
  var KEY = "ungechat:" + slug;
  var API = "/api/v1";

  var info = null; // GET /kommuner/{slug}
  var answers = {}; // question id -> option id ("" = skipped)
  var step = 0; // index of the question being asked
  var session = null; // {conversation, token}
  var stream = null; // {abort, lastId}
  var seen = {}; // message ids shown
  var pending = []; // optimistic youth messages awaiting their echo
  var status = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function fill(s, vars) {
    return s.replace(/\{(\w+)\}/g, function (_, k) { return vars[k] != null ? vars[k] : ""; });
  }
  function text(key) {
    var own = info && info.texts && info.texts[key];
    return typeof own === "string" && own.trim() ? own : null;
  }

  // -- views ------------------------------------------------------------------
  var VIEWS = ["loading", "error", "intro", "chat", "closed"];
  function show(name) {
    VIEWS.forEach(function (v) { $("view-" + v).hidden = v !== name; });
    document.body.className = "in-" + name;
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
    if (lang === "en") other.delete("lang"); else other.set("lang", "en");
    var qs = other.toString();
    var link = $("lang-link");
    link.href = location.pathname + (qs ? "?" + qs : "");
    link.textContent = t.otherLang;
    link.hreflang = lang === "en" ? "da" : "en";
    link.lang = lang === "en" ? "da" : "en";
  }

  // -- helpers for texts that may hold phone numbers ----------------------------
  var PHONE = /(\+45 ?)?\b(\d{2}(?: \d{2,3}){2,3}|\d{3}(?: \d{3})?|\d{8})\b/g;
  function appendLinked(parent, s) {
    var last = 0, m;
    PHONE.lastIndex = 0;
    while ((m = PHONE.exec(s))) {
      parent.appendChild(document.createTextNode(s.slice(last, m.index)));
      var a = el("a", "tel", m[0]);
      a.href = "tel:" + m[0].replace(/ /g, "");
      parent.appendChild(a);
      last = m.index + m[0].length;
    }
    parent.appendChild(document.createTextNode(s.slice(last)));
  }
  function renderHelp(box) {
    box.textContent = "";
    var own = text("help_now");
    if (own) {
      var p = el("p", "prewrap");
      appendLinked(p, own);
      box.appendChild(p);
      return;
    }
    var ul = el("ul", "help-list");
    t.help.forEach(function (h) {
      var li = el("li");
      li.appendChild(document.createTextNode(h[0]));
      var a = el("a", "tel", h[1]);
      a.href = "tel:" + h[1].replace(/ /g, "");
      li.appendChild(a);
      li.appendChild(document.createTextNode(h[2]));
      ul.appendChild(li);
    });
    box.appendChild(ul);
  }

  // -- API --------------------------------------------------------------------
  function api(method, path, body, auth) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth) headers.Authorization = "Bearer " + auth;
    return fetch(API + path, {
      method: method,
      headers: headers,
      body: body !== undefined ? JSON.stringify(body) : undefined,
      cache: "no-store",
      credentials: "omit"
    }).then(function (r) {
      return r.text().then(function (raw) {
        var data = {};
        try { data = raw ? JSON.parse(raw) : {}; } catch (e) { data = {}; }
        return { status: r.status, ok: r.ok, data: data };
      });
    });
  }

  function loadInfo() {
    return api("GET", "/kommuner/" + encodeURIComponent(slug) + "?lang=" + lang).then(function (r) {
      if (r.status === 404) throw new Error(t.notFound);
      if (!r.ok) throw new Error(t.failed);
      info = r.data;
      $("service-name").textContent = info.service_name || info.name || "";
      $("kommune-name").textContent = info.service_name && info.name !== info.service_name ? info.name : "";
      document.title = (info.service_name || info.name || "") + " – " + t.title;
      return info;
    }, function () {
      throw new Error(t.offline);
    });
  }

  // -- intro ------------------------------------------------------------------
  function renderIntro() {
    var open = !!info.open;
    $("open-status").className = "open-status " + (open ? "is-open" : "is-closed");
    $("open-text").textContent = open ? t.openNow : t.closedNow;
    $("open-status").hidden = !open; // when closed, the closed box says it
    $("intro-text").textContent = text("intro") || fill(t.intro, { kommune: info.name || "" });
    var promise = text("promise") || t.promise;
    var cut = promise.search(/[.!]\s/) + 1;
    var pt = $("promise-text");
    pt.textContent = "";
    if (cut > 0) pt.appendChild(el("strong", "lead", promise.slice(0, cut)));
    pt.appendChild(document.createTextNode(promise.slice(cut)));
    $("privacy-text").textContent = text("privacy") || t.privacy;
    $("closed-box").hidden = open;
    $("next-opening").textContent = info.next_opening_text
      ? fill(t.nextOpening, { when: info.next_opening_text })
      : t.noNextOpening;
    $("closed-title").textContent = text("closed") || t.closedTitle;
    $("help-box").hidden = open;
    // When closed, what matters first is when it opens and where to get help now.
    var view = $("view-intro");
    var anchor = open ? $("questions") : $("intro-text");
    view.insertBefore($("closed-box"), anchor);
    view.insertBefore($("help-box"), anchor);
    renderHelp($("help-now"));
    renderHelp($("help-now-closed"));
    $("start-error").hidden = true;
    renderQuestions();
    show("intro");
  }

  function renderQuestions() {
    var box = $("questions");
    box.textContent = "";
    var qs = (info && info.open && info.questions) || [];
    var start = $("start");
    if (!info || !info.open) {
      start.hidden = true;
      start.disabled = true;
      return;
    }
    if (qs.length) {
      var card = el("div", "card");
      card.appendChild(el("h2", null, t.questionsTitle));
      card.appendChild(el("p", "muted small", t.questionsNote));
      qs.forEach(function (q, i) {
        if (i > step) return;
        var chosen = answers[q.id];
        if (i < step) {
          var done = el("div", "answered");
          var label = chosen ? (q.options.filter(function (o) { return o.id === chosen; })[0] || {}).label : t.skipped;
          var p = el("p");
          p.appendChild(el("span", "q-text", q.text));
          p.appendChild(el("strong", chosen ? "a-text" : "a-text muted", label || t.skipped));
          done.appendChild(p);
          var change = el("button", "btn link", t.change);
          change.type = "button";
          change.setAttribute("aria-label", t.change + ": " + q.text);
          change.addEventListener("click", function () { step = i; renderQuestions(); focusQuestion(); });
          done.appendChild(change);
          card.appendChild(done);
          return;
        }
        var group = el("div", "question");
        group.setAttribute("role", "group");
        var qid = "q-" + i;
        var h = el("p", "q-title", q.text);
        h.id = qid;
        h.tabIndex = -1;
        group.setAttribute("aria-labelledby", qid);
        group.appendChild(h);
        var opts = el("div", "options");
        q.options.forEach(function (o) {
          var b = el("button", "btn option", o.label);
          b.type = "button";
          b.setAttribute("aria-pressed", chosen === o.id ? "true" : "false");
          b.addEventListener("click", function () { answer(q.id, o.id); });
          opts.appendChild(b);
        });
        var skip = el("button", "btn option skip", t.skip);
        skip.type = "button";
        skip.addEventListener("click", function () { answer(q.id, ""); });
        opts.appendChild(skip);
        group.appendChild(opts);
        card.appendChild(group);
      });
      box.appendChild(card);
    }
    var ready = step >= qs.length;
    start.hidden = !ready;
    start.disabled = !ready;
  }

  function focusQuestion() {
    var h = document.querySelector(".question .q-title");
    if (h) h.focus();
  }

  function answer(qid, oid) {
    answers[qid] = oid;
    step += 1;
    renderQuestions();
    var qs = info.questions || [];
    if (step >= qs.length) $("start").focus(); else focusQuestion();
  }

  function startChat() {
    var btn = $("start");
    var err = $("start-error");
    btn.disabled = true;
    btn.textContent = t.starting;
    err.hidden = true;
    var chosen = {};
    Object.keys(answers).forEach(function (k) { if (answers[k]) chosen[k] = answers[k]; });
    api("POST", "/conversations", { kommune: slug, kanal: kanal || null, answers: chosen }).then(function (r) {
      btn.textContent = t.start;
      if (r.status === 201 && r.data.token) {
        session = { conversation: r.data.conversation, token: r.data.token };
        try { sessionStorage.setItem(KEY, JSON.stringify(session)); } catch (e) { /* private mode */ }
        openChat();
        return;
      }
      btn.disabled = false;
      if (r.status === 409) {
        loadInfo().then(function () { renderIntro(); fail(t.startClosed); }, function () { fail(t.startClosed); });
        return;
      }
      fail(r.status === 429 ? t.busy : r.status === 503 ? t.unavailable : t.failed);
    }, function () {
      btn.textContent = t.start;
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
    pending = [];
    status = null;
    $("messages").textContent = "";
    $("confirm-end").hidden = true;
    $("input").value = "";
    setStatus("waiting");
    show("chat");
    connect(null, 0);
    $("input").focus();
  }

  function setStatus(s) {
    status = s;
    $("chat-status").textContent = s === "active" ? t.statusActive : t.statusWaiting;
    $("chat-status").className = "chat-status " + (s === "active" ? "is-active" : "is-waiting");
    $("waiting").hidden = s !== "waiting";
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
    if (from === "counsellor") li.appendChild(el("span", "who", t.counsellor));
    if (from === "youth") li.appendChild(el("span", "who sr-only", t.you));
    li.appendChild(el("p", "body", body));
    var meta = el("span", "meta", time(ts));
    li.appendChild(meta);
    return li;
  }

  function onMessage(m) {
    if (!m.id || seen[m.id]) return;
    seen[m.id] = true;
    var stick = nearBottom();
    if (m.from === "youth") {
      for (var i = 0; i < pending.length; i++) {
        if (pending[i].body === m.body) {
          var p = pending.splice(i, 1)[0];
          p.li.classList.remove("is-pending", "is-failed");
          p.li.querySelector(".meta").textContent = time(m.ts);
          var act = p.li.querySelector(".retry");
          if (act) act.remove();
          return;
        }
      }
      insert(bubble("youth", m.body, m.ts));
    } else if (m.from === "counsellor") {
      insert(bubble("counsellor", m.body, m.ts));
    } else {
      var body = (m.key && t.sys[m.key]) || m.body;
      var li = el("li", "msg from-system", body);
      insert(li);
    }
    if (stick || m.from === "youth") toBottom();
  }

  // Echoed and received messages go before any still-pending ones, so order is kept.
  function insert(li) {
    var list = $("messages");
    var first = pending.length ? pending[0].li : null;
    list.insertBefore(li, first);
  }

  function onEvent(data) {
    var ev;
    try { ev = JSON.parse(data); } catch (e) { return; }
    if (ev.type === "message") onMessage(ev);
    else if (ev.type === "status") {
      if (ev.status === "closed") closed();
      else setStatus(ev.status);
    }
  }

  // Server-sent events over fetch(), because EventSource cannot send the token.
  function connect(lastId, attempt) {
    if (!session) return;
    var ctrl = new AbortController();
    var s = { ctrl: ctrl, lastId: lastId, done: false };
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
        closed();
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
    if (!session) return;
    $("conn").textContent = t.reconnecting;
    $("conn").hidden = attempt < 1;
    var wait = Math.min(15000, 1000 * Math.pow(2, attempt));
    s.timer = setTimeout(function () {
      if (stream === s) connect(s.lastId, attempt + 1);
    }, wait);
  }

  function stopStream() {
    if (stream) {
      clearTimeout(stream.timer);
      stream.ctrl.abort();
      stream = null;
    }
  }

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

  function post(p) {
    if (!session) return;
    api("POST", "/conversations/" + encodeURIComponent(session.conversation) + "/messages",
      { body: p.body, client_id: p.clientId }, session.token).then(function (r) {
      if (r.status === 202) return;
      if (r.status === 404 || r.status === 409) { closed(); return; }
      failed(p, r.data && r.data.errcode === "M_TOO_LARGE" ? t.tooLong : t.notSent);
    }, function () { failed(p, t.notSent); });
  }

  function failed(p, msg) {
    if (pending.indexOf(p) < 0) return; // the echo came first after all
    p.li.classList.add("is-failed");
    var meta = p.li.querySelector(".meta");
    meta.textContent = msg + " ";
    var b = el("button", "btn link retry", t.retry);
    b.type = "button";
    b.addEventListener("click", function () {
      b.remove();
      p.li.classList.remove("is-failed");
      meta.textContent = t.sending;
      post(p);
    });
    meta.appendChild(b);
  }

  function submit() {
    var input = $("input");
    var body = input.value.replace(/\s+$/, "").replace(/^\s*\n/, "");
    if (!body.trim() || !session) return;
    input.value = "";
    autosize();
    send(body);
  }

  function autosize() {
    var input = $("input");
    input.rows = Math.min(5, Math.max(1, input.value.split("\n").length));
  }

  function endChat() {
    if (!session) return closed();
    var s = session;
    $("end-yes").disabled = true;
    api("POST", "/conversations/" + encodeURIComponent(s.conversation) + "/end", {}, s.token).then(function (r) {
      $("end-yes").disabled = false;
      if (r.ok || r.status === 404) closed();
      else $("confirm-end").hidden = true;
    }, function () {
      $("end-yes").disabled = false;
      $("conn").textContent = t.offline;
      $("conn").hidden = false;
    });
  }

  function closed() {
    status = "closed";
    stopStream();
    session = null;
    pending = [];
    try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing stored */ }
    $("messages").textContent = "";
    $("input").value = "";
    renderHelp($("help-now-closed"));
    show("closed");
    $("closed-heading").focus();
  }

  function startOver() {
    answers = {};
    step = 0;
    show("loading");
    loadInfo().then(renderIntro, function (e) { showError(e.message); });
  }

  function quickExit() {
    // Blank the page first, so nothing lingers in a snapshot; replace() leaves no history entry.
    stopStream();
    document.title = "";
    document.body.textContent = "";
    location.replace("https://www.dr.dk/");
  }

  // -- wiring -----------------------------------------------------------------
  function init() {
    translateStatic();
    $("quick-exit").addEventListener("click", quickExit);
    $("retry").addEventListener("click", boot);
    $("start").addEventListener("click", startChat);
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
    $("composer").addEventListener("submit", function (e) { e.preventDefault(); submit(); $("input").focus(); });
    $("input").addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    });
    $("input").addEventListener("input", autosize);
    function reconnectNow() {
      if (stream && stream.timer && session && !document.hidden) {
        clearTimeout(stream.timer);
        stream.timer = null;
        connect(stream.lastId, 0);
      }
    }
    window.addEventListener("online", reconnectNow);
    document.addEventListener("visibilitychange", reconnectNow);
    boot();
  }

  function boot() {
    show("loading");
    try { session = JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch (e) { session = null; }
    if (!slug) return showError(t.notFound);
    loadInfo().then(function () {
      if (session && session.token && session.conversation) openChat();
      else renderIntro();
    }, function (e) {
      if (session && session.token) openChat(); // the chat may still run when info cannot load
      else showError(e.message);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
