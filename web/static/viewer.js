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
//
// The filter box marks the matched text in the lines shown (a substring,
// any case). In regex mode the expression also goes to the daemon as grep=:
// the stream reconnects from the last position with it, so only matching
// lines come (the last ones first when the page opens), and the page's URL
// keeps ?grep= so that a link shows the same. Marks are made with DOM
// ranges over the text, never by building markup from log text.
(function () {
  'use strict';

  var body = document.body;
  var log = document.getElementById('log');
  var $ = function (id) { return document.getElementById(id); };
  var ui = {
    status: $('status'), pause: $('pause'), filter: $('filter'), only: $('only'),
    wrap: $('wrap'), cap: $('cap'), theme: $('theme'), bottom: $('bottom'),
    regex: $('regex'), download: $('download')
  };
  var params = new URLSearchParams(location.search);
  var token = params.get('token'); // logtaild --token: carried on to the stream and the download

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
  var needle = null;      // the filter as a RegExp (global), or null
  var grep = params.get('grep') || ''; // the daemon's filter (regex mode), '' for none
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
    if (grep) q += '&grep=' + encodeURIComponent(grep);
    // a page opened with ?token=T (logtaild --token) carries it on to its stream
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

  // toRegExp is the daemon's RE2 expression as a JavaScript one, for marking:
  // a leading (?i) becomes the i flag. What JavaScript cannot read is not
  // marked (the daemon still filters).
  function toRegExp(re) {
    var flags = 'g';
    var m = /^\(\?([a-zA-Z]+)\)/.exec(re);
    if (m) {
      if (m[1].indexOf('i') >= 0) flags += 'i';
      if (m[1].indexOf('s') >= 0) flags += 's';
      if (m[1].indexOf('m') >= 0) flags += 'm';
      re = re.slice(m[0].length);
    }
    try {
      return new RegExp(re, flags);
    } catch (e) {
      return null;
    }
  }

  function escapeRegExp(s) {
    return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }

  // unmark puts the text of a line's marks back in place.
  function unmark(el) {
    var marks = el.getElementsByTagName('mark');
    if (!marks.length) return;
    while (marks.length) {
      var mk = marks[0];
      mk.parentNode.replaceChild(document.createTextNode(mk.textContent), mk);
    }
    el.normalize();
  }

  // mark wraps each match of needle in the line's text in <mark>, across
  // the colour spans the text is split into, and says whether it matched.
  function mark(el) {
    unmark(el);
    if (!needle) {
      el.classList.remove('hit');
      return;
    }
    var text = el.textContent;
    var ranges = [];
    needle.lastIndex = 0;
    var m;
    while ((m = needle.exec(text)) !== null && ranges.length < 100) {
      if (m[0].length === 0) {
        needle.lastIndex++;
        continue;
      }
      ranges.push([m.index, m.index + m[0].length]);
    }
    el.classList.toggle('hit', ranges.length > 0);
    if (!ranges.length) return;
    // the text nodes and where each starts in text
    var nodes = [], starts = [], at = 0;
    var walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (var n = walk.nextNode(); n; n = walk.nextNode()) {
      nodes.push(n);
      starts.push(at);
      at += n.data.length;
    }
    // from the last range backwards, so earlier offsets stay right
    for (var r = ranges.length - 1; r >= 0; r--) {
      for (var i = nodes.length - 1; i >= 0; i--) {
        var s0 = Math.max(ranges[r][0], starts[i]);
        var e0 = Math.min(ranges[r][1], starts[i] + nodes[i].data.length);
        if (s0 >= e0) continue;
        var node = nodes[i];
        node.splitText(e0 - starts[i]); // the text after the match: a node of its own
        var mid = node.splitText(s0 - starts[i]);
        var mk = document.createElement('mark');
        mid.parentNode.replaceChild(mk, mid);
        mk.appendChild(mid);
        // node keeps the text before the match, where earlier ranges lie
      }
    }
  }

  function refilter() {
    var text = ui.filter ? ui.filter.value : '';
    var regexMode = !!(ui.regex && ui.regex.checked);
    needle = !text ? null : regexMode ? toRegExp(text) : new RegExp(escapeRegExp(text), 'gi');
    if (ui.filter) ui.filter.classList.toggle('bad', regexMode && !!text && !needle);
    var lines = log.children;
    for (var i = 0; i < lines.length; i++) {
      if (lines[i].classList.contains('event')) continue;
      mark(lines[i]);
    }
    log.classList.toggle('only', !!needle && !!(ui.only && ui.only.checked));
    if (stick) toBottom();
    setGrep(regexMode ? text : '');
  }

  // setGrep changes the daemon's filter: the stream reconnects from the last
  // position with it, and the page's URL keeps it.
  function setGrep(g) {
    if (g === grep) return;
    grep = g;
    var q = new URLSearchParams(location.search);
    if (grep) q.set('grep', grep); else q.delete('grep');
    var qs = q.toString();
    history.replaceState(null, '', location.pathname + (qs ? '?' + qs : ''));
    if (paused) return;
    var sock = ws;
    ws = null; // its messages are no longer ours: pos stays at the last line taken
    if (sock) sock.close(1000, 'filter changed');
    backoff = 0;
    connect();
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
      // in regex mode each change reconnects: wait for the typing to stop
      filterTimer = setTimeout(refilter, ui.regex && ui.regex.checked ? 500 : 80);
    });
    if (grep) {
      ui.filter.value = grep;
      if (ui.regex) ui.regex.checked = true;
    }
  }
  if (ui.regex) ui.regex.addEventListener('change', refilter);
  if (ui.download) {
    ui.download.href = location.pathname + '?download=1' + (token ? '&token=' + encodeURIComponent(token) : '');
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
  if (grep) needle = toRegExp(grep);
  connect();
})();
