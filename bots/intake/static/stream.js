/* stream.js: the event stream: read it, dispatch by type, reconnect with Last-Event-ID.
 * Its handlers: {events: {type: fn}, gone(), up(), down(attempt)}. */
import { events } from "./api.js";

export function connect(s, on, lastId, attempt) {
  if (!s.session) return;
  var ctrl = new AbortController();
  var st = { ctrl, lastId, on };
  s.stream = st;
  events(s, lastId, ctrl.signal).then(r => {
    if (r.status === 401 || r.status === 403 || r.status === 404) {
      on.gone();
      return;
    }
    if (!r.ok || !r.body) throw new Error("stream " + r.status);
    on.up();
    attempt = 0;
    var reader = r.body.getReader();
    var decoder = new TextDecoder();
    var buf = "", data = [], id = null;
    function line(l) {
      if (l === "") {
        if (id !== null) st.lastId = id;
        if (data.length) dispatch(st, data.join("\n"));
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
      return reader.read().then(res => {
        if (s.stream !== st) { reader.cancel(); return; }
        if (res.done) return;
        buf += decoder.decode(res.value, { stream: true });
        var parts = buf.split(/\r\n|\r|\n/);
        buf = parts.pop();
        parts.forEach(line);
        return pump();
      });
    }
    return pump();
  }).then(lost, lost);
  function lost() {
    if (s.stream !== st || s.status === "closed") return;
    if (st.handover) connect(s, on, st.lastId, 0);
    else retry(s, st, attempt);
  }
}

function dispatch(st, data) {
  var ev;
  try { ev = JSON.parse(data); } catch (e) { return; }
  // The server is shutting down and hands the stream over: reconnect now, quietly.
  if (ev.type === "reconnect") st.handover = true;
  else if ({}.hasOwnProperty.call(st.on.events, ev.type)) st.on.events[ev.type](ev);
}

function retry(s, st, attempt) {
  st.on.down(attempt);
  st.timer = setTimeout(() => {
    if (s.stream === st) connect(s, st.on, st.lastId, attempt + 1);
  }, Math.min(15000, 1000 * Math.pow(2, attempt)));
}

// Online or in view again: a stream waiting to reconnect does it now.
export function wake(s) {
  var st = s.stream;
  if (st && st.timer && !document.hidden) {
    clearTimeout(st.timer);
    st.timer = null;
    connect(s, st.on, st.lastId, 0);
  }
}

export function stop(s) {
  if (s.stream) {
    clearTimeout(s.stream.timer);
    s.stream.ctrl.abort();
    s.stream = null;
  }
}
