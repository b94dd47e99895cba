// logtail viewer: follows one file over the daemon's WebSocket stream.
//
// The stream is ws(s)://<this page's host and path>?format=json&html=1&tail=1,
// in the protocol written once in wire/doc.go (go doc github.com/logtail/logtail/wire):
// each message is {"lines":[...],"pos":"POS"} with every line already
// rendered and escaped by the server, or an event {"event":...,"pos":...}; a
// gap event (lines that will never come) gets a warning marker of its own.
// Positions are opaque: the last one seen is sent back as from=POS.
// Log text is only ever inserted as that server-rendered HTML (one element
// per line); nothing here builds markup from log text or evaluates it.
//
// Pausing closes the socket and keeps the position of the last line shown;
// resuming, and reconnecting after a dropped connection, ask for from=pos, so
// no line is lost or repeated.
(function () {
  'use strict';

  var body = document.body;
  var log = document.getElementById('log');
  var $ = function (id) { return document.getElementById(id); };
  var ui = {
    status: $('status'), pause: $('pause'), filter: $('filter'), only: $('only'),
    wrap: $('wrap'), cap: $('cap'), theme: $('theme'), bottom: $('bottom')
  };

  var initialLines = parseInt(body.dataset.lines, 10);
  if (!(initialLines >= 0)) initialLines = 1000;
  var cap = clampCap(parseInt(body.dataset.cap, 10));

  var ws = null;          // the live socket, or null
  var pos = null;         // position after the last line received
  var paused = false;
  var state = 'connecting';
  var backoff = 0;        // ms before the next reconnection
  var retryTimer = 0;
  var pending = [];       // lines (HTML strings) and events waiting for the next frame
  var frameQueued = false;
  var stick = true;       // keep the newest line in view
  var needle = '';        // filter, lower case
  var samples = [];       // [time ms, lines] for the rate
  var started = Date.now();

  function clampCap(n) {
    if (!(n > 0)) return 5000;
    return Math.max(100, Math.min(100000, n));
  }

  // --- the stream -----------------------------------------------------------

  function streamURL() {
    var proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    var q = 'format=json&html=1&tail=1';
    q += pos ? '&from=' + encodeURIComponent(pos) : '&lines=' + initialLines;
    // a page opened with ?token=T (logtaild --token) carries it on to its stream
    var token = new URLSearchParams(location.search).get('token');
    if (token) q += '&token=' + encodeURIComponent(token);
    return proto + '//' + location.host + location.pathname + '?' + q;
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (paused || ws) return;
    setState(pos ? 'reconnecting' : 'connecting');
    var sock;
    try {
      sock = new WebSocket(streamURL());
    } catch (e) {
      retry();
      return;
    }
    ws = sock;
    sock.onopen = function () {
      if (ws === sock) setState('connected');
    };
    sock.onmessage = function (ev) {
      if (ws !== sock) return; // a socket we closed on pause: its pos is not ours
      backoff = 0;
      receive(ev.data);
    };
    sock.onclose = function () {
      if (ws !== sock) return;
      ws = null;
      if (!paused) retry();
    };
  }

  function retry() {
    backoff = backoff ? Math.min(backoff * 2, 10000) : 250;
    var wait = backoff / 2 + Math.random() * backoff / 2;
    setState('reconnecting');
    retryTimer = setTimeout(connect, wait);
  }

  function receive(data) {
    var m;
    try {
      m = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (m.event === 'gap') {
      pending.push({ event: gapText(m), gap: true });
    } else if (m.event) {
      var what = m.event === 'rotated' ? 'file rotated' : m.event === 'truncated' ? 'file truncated' : m.event;
      pending.push({ event: what + (m.reason ? ': ' + m.reason : '') });
    } else if (m.lines && m.lines.length) {
      for (var i = 0; i < m.lines.length; i++) pending.push(m.lines[i]);
      samples.push([Date.now(), m.lines.length]);
    }
    if (m.pos) pos = m.pos;
    // A hidden tab gets no animation frames: keep what waits bounded too.
    if (pending.length > 2 * cap) pending.splice(0, pending.length - cap);
    if (!frameQueued && pending.length) {
      frameQueued = true;
      requestAnimationFrame(flush);
    }
  }

  // gapText says that lines will never be shown, and why: unlike a rotation
  // or a truncation, something is missing from the page.
  function gapText(m) {
    var t = 'lines lost: ' + (m.reason || 'unknown reason');
    var more = [];
    if (typeof m.bytes === 'number') more.push(m.bytes + ' bytes');
    if (m.file) more.push('file ' + m.file);
    if (more.length) t += ' (' + more.join('; ') + ')';
    return t;
  }

  // --- the page -------------------------------------------------------------

  // flush puts the waiting lines into the page, one element each, in one
  // fragment, then drops the oldest beyond the cap.
  function flush() {
    frameQueued = false;
    var items = pending;
    pending = [];
    if (items.length > cap) items = items.slice(items.length - cap);
    var frag = document.createDocumentFragment();
    for (var i = 0; i < items.length; i++) {
      var el = document.createElement('div');
      var it = items[i];
      if (typeof it === 'string') {
        el.className = 'line';
        el.innerHTML = it; // the server's escaped HTML: only <span class="term-…">
        if (needle) mark(el);
      } else {
        // never marked by the filter: .event lines are always shown
        el.className = it.gap ? 'line event gap' : 'line event';
        el.textContent = (it.gap ? '⚠ ' : '— ') + it.event + (it.gap ? '' : ' —');
      }
      frag.appendChild(el);
    }
    log.appendChild(frag);
    trim();
    if (stick) toBottom();
    if (!statusTimer) statusTimer = setTimeout(showStatus, Math.max(0, 250 - (Date.now() - shownAt)));
  }

  function trim() {
    var excess = log.childElementCount - cap;
    if (excess <= 0) return;
    var r = document.createRange();
    r.setStartBefore(log.firstChild);
    r.setEndAfter(log.children[excess - 1]);
    r.deleteContents();
  }

  function toBottom() {
    var se = document.scrollingElement;
    se.scrollTop = se.scrollHeight;
  }

  function atBottom() {
    var se = document.scrollingElement;
    return se.scrollHeight - se.scrollTop - se.clientHeight < 8;
  }

  window.addEventListener('scroll', function () { stick = atBottom(); }, { passive: true });

  // --- filter ---------------------------------------------------------------

  function mark(el) {
    el.classList.toggle('hit', el.textContent.toLowerCase().indexOf(needle) >= 0);
  }

  function refilter() {
    needle = ui.filter ? ui.filter.value.toLowerCase() : '';
    var lines = log.children;
    for (var i = 0; i < lines.length; i++) {
      if (lines[i].classList.contains('event')) continue;
      if (needle) mark(lines[i]);
      else lines[i].classList.remove('hit');
    }
    log.classList.toggle('only', !!needle && !!(ui.only && ui.only.checked));
    if (stick) toBottom();
  }

  // --- controls -------------------------------------------------------------

  function setPaused(p) {
    if (p === paused) return;
    paused = p;
    if (ui.pause) {
      ui.pause.textContent = p ? 'resume' : 'pause';
      ui.pause.setAttribute('aria-pressed', String(p));
    }
    if (p) {
      clearTimeout(retryTimer);
      retryTimer = 0;
      var sock = ws;
      ws = null; // from now on its messages are ignored: pos stays at the last line taken
      if (sock) sock.close(1000, 'paused');
      setState('paused');
    } else {
      backoff = 0;
      connect();
    }
  }

  function setWrap(on) {
    log.classList.toggle('wrap', on);
    if (ui.wrap) ui.wrap.checked = on;
    if (stick) toBottom();
  }

  var themes = ['auto', 'dark', 'light'];
  function setTheme(t) {
    if (themes.indexOf(t) < 0) t = 'auto';
    var root = document.documentElement;
    root.classList.remove('theme-dark', 'theme-light');
    if (t !== 'auto') root.classList.add('theme-' + t);
    if (ui.theme) ui.theme.textContent = t;
    try { localStorage.setItem('logtail-theme', t); } catch (e) { /* storage may be off in an iframe */ }
  }
  function currentTheme() {
    var root = document.documentElement;
    return root.classList.contains('theme-dark') ? 'dark' : root.classList.contains('theme-light') ? 'light' : 'auto';
  }

  function jumpToBottom() {
    stick = true;
    toBottom();
  }

  if (ui.pause) ui.pause.addEventListener('click', function () { setPaused(!paused); });
  if (ui.filter) {
    var filterTimer = 0;
    ui.filter.addEventListener('input', function () {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(refilter, 80);
    });
  }
  if (ui.only) ui.only.addEventListener('change', refilter);
  if (ui.wrap) ui.wrap.addEventListener('change', function () { setWrap(ui.wrap.checked); });
  if (ui.cap) {
    ui.cap.addEventListener('change', function () {
      cap = clampCap(parseInt(ui.cap.value, 10));
      ui.cap.value = cap;
      trim();
    });
  }
  if (ui.theme) ui.theme.addEventListener('click', function () {
    setTheme(themes[(themes.indexOf(currentTheme()) + 1) % themes.length]);
  });
  if (ui.bottom) ui.bottom.addEventListener('click', jumpToBottom);

  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) {
      if (e.key === 'Escape') t.blur();
      return;
    }
    switch (e.key) {
      case 'p': setPaused(!paused); break;
      case 'w': setWrap(!log.classList.contains('wrap')); break;
      case '/':
        if (!ui.filter) return;
        ui.filter.focus();
        break;
      case 'End': jumpToBottom(); break;
      default: return;
    }
    e.preventDefault();
  });

  // --- status ---------------------------------------------------------------

  function setState(s) {
    state = s;
    showStatus();
  }

  function rate() {
    var now = Date.now();
    while (samples.length && samples[0][0] < now - 5000) samples.shift();
    var n = 0;
    for (var i = 0; i < samples.length; i++) n += samples[i][1];
    var secs = Math.max(1, Math.min(5, (now - started) / 1000));
    return Math.round(n / secs);
  }

  var shownAt = 0, statusTimer = 0;
  function showStatus() {
    clearTimeout(statusTimer);
    statusTimer = 0;
    shownAt = Date.now();
    body.dataset.state = state;
    if (!ui.status) return;
    ui.status.dataset.state = state;
    ui.status.textContent = state + ' · ' + rate() + ' lines/s · ' + log.childElementCount + ' shown';
  }
  setInterval(showStatus, 1000);

  try { setTheme(localStorage.getItem('logtail-theme') || 'auto'); } catch (e) { setTheme('auto'); }
  connect();
})();
