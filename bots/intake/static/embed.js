/* ungechat embed: one line on a municipal or youth-school site adds a chat button that
 * opens the youth page in an iframe. It sets no cookies and sends nothing until the
 * button is pressed; the chat itself runs on the chat's own origin, in the iframe.
 *   <script src="https://CHAT/embed.js" data-kommune="SLUG" data-kanal="hjemmeside" async></script>
 * The quick exit (in the chat, or Escape twice on this page) ends the conversation and
 * takes the whole tab to a neutral site, replacing the host page's history entry (see
 * docs/youth-page.md). */
(function () {
  "use strict";
  var me = document.currentScript;
  var slug = me && me.getAttribute("data-kommune");
  if (!slug || document.getElementById("ungechat-button")) return;
  var origin = new URL(me.src).origin;
  var kanal = me.getAttribute("data-kanal") || "";
  var lang = (me.getAttribute("data-lang") || document.documentElement.lang || "da").slice(0, 2);
  var en = lang === "en";
  var NEUTRAL = "https://www.dr.dk/";
  var BRAND = "#2f5d50";
  var panel = null, frame = null, lastEscape = 0, leaving = false, left = false;

  var button = document.createElement("button");
  button.type = "button";
  button.id = "ungechat-button";
  button.textContent = en ? "Chat anonymously with a counsellor" : "Chat anonymt med en rådgiver";
  button.setAttribute("aria-expanded", "false");
  style(button, {
    position: "fixed", right: "16px", bottom: "16px", zIndex: "2147483646",
    padding: "12px 18px", minHeight: "48px", border: "2px solid #fff", borderRadius: "999px",
    background: BRAND, color: "#fff", font: "600 16px/1.2 system-ui, sans-serif",
    boxShadow: "0 4px 14px rgba(0,0,0,.25)", cursor: "pointer"
  });
  button.addEventListener("click", toggle);
  document.body.appendChild(button);

  function style(el, props) {
    for (var k in props) el.style[k] = props[k]; // CSSOM, so a strict host CSP allows it
  }

  function open() {
    var small = window.innerWidth < 600;
    panel = document.createElement("div");
    panel.id = "ungechat-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", button.textContent);
    style(panel, {
      position: "fixed", zIndex: "2147483647", display: "flex", flexDirection: "column",
      background: BRAND, boxShadow: "0 8px 30px rgba(0,0,0,.3)",
      right: small ? "0" : "16px", bottom: small ? "0" : "16px",
      width: small ? "100%" : "400px", height: small ? "100%" : "min(680px, calc(100% - 32px))",
      borderRadius: small ? "0" : "14px", overflow: "hidden"
    });
    var hide = document.createElement("button");
    hide.type = "button";
    hide.textContent = en ? "Hide the chat ▾" : "Skjul chatten ▾";
    style(hide, {
      alignSelf: "flex-end", minHeight: "36px", padding: "6px 12px", border: "0",
      background: "transparent", color: "#fff", font: "600 14px system-ui, sans-serif", cursor: "pointer"
    });
    hide.addEventListener("click", toggle);
    frame = document.createElement("iframe");
    var q = "?kanal=" + encodeURIComponent(kanal) + (en ? "&lang=en" : "") + "&embed=1";
    frame.src = origin + "/k/" + encodeURIComponent(slug) + q;
    frame.title = button.textContent;
    frame.setAttribute("referrerpolicy", "no-referrer");
    style(frame, { flex: "1", width: "100%", border: "0", background: "#f6f3ee" });
    panel.appendChild(hide);
    panel.appendChild(frame);
    document.body.appendChild(panel);
  }

  // Hiding keeps the conversation: the iframe stays, only out of sight.
  function toggle() {
    if (!panel) open();
    else panel.style.display = panel.style.display === "none" ? "flex" : "none";
    var shown = panel.style.display !== "none";
    button.setAttribute("aria-expanded", String(shown));
    button.hidden = shown && window.innerWidth < 600;
    if (shown) frame.focus();
    else button.focus();
  }

  // Left from this page (Escape twice), the chat is asked to end the conversation and
  // forget its token first; it answers at once, and the tab goes anyway if it can't.
  function quickExit(fromChat) {
    if (leaving) return;
    leaving = true;
    button.remove();
    document.title = "";
    if (panel && !fromChat) {
      panel.style.display = "none";
      frame.contentWindow.postMessage("ungechat:quick-exit", origin);
      setTimeout(leave, 400);
    } else {
      leave();
    }
  }
  function leave() {
    if (left) return;
    left = true;
    if (panel) panel.remove();
    location.replace(NEUTRAL); // replaces this page's entry: "back" does not return here
  }

  window.addEventListener("message", function (e) {
    if (frame && e.origin === origin && e.source === frame.contentWindow && e.data === "ungechat:quick-exit") {
      if (leaving) leave();
      else quickExit(true);
    }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape" || !panel || panel.style.display === "none") return;
    if (Date.now() - lastEscape < 1500) quickExit(false);
    lastEscape = Date.now();
  });
})();
