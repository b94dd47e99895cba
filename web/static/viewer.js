// logtail viewer: follows one file, or several merged into one view, over the
// daemon's WebSocket streams (stream.js; the protocol is wire/doc.go).
//
// The page's paths come from the body's data-paths: one (the page at a
// file's own URL, or at a directory's or a pattern's, which the daemon
// streams as one stream of many files whose messages name their "file"), or
// several (/_logtail/view?path=A&path=B: one stream each, merged here). The
// last lines of each are read first and, with several files, merged by the
// time they carry; then every new line is appended as it comes. Each line of
// several files is marked with its file's colour, and each file can be
// hidden. A dropped connection resumes from the last position (from=POS, or
// from=CURSOR for a stream of many files), so no line is lost or repeated.
//
// Log text is only ever inserted as the HTML the daemon rendered and escaped
// (one element per line); JSON records are shown as time, level, message and
// fields built with textContent. Nothing here builds markup from log text or
// evaluates it. Marks of the filter are made with DOM ranges over the text.
//
// Scrolling to the top loads the lines before the first one shown
// (before=POS, wire's "Paging back"), until the start of each file. The rate
// counts only the lines written since the page opened.

import { Source, pathURL, offsetOf } from './stream.js';
import { describe, recordNodes, mergeByTime } from './lines.js';
import { Rate, drawChart, formatRate } from './rate.js';

const body = document.body;
const log = document.getElementById('log');
const $ = (id) => document.getElementById(id);
const ui = {
  status: $('status'), pause: $('pause'), filter: $('filter'), only: $('only'),
  wrap: $('wrap'), cap: $('cap'), theme: $('theme'), bottom: $('bottom'),
  regex: $('regex'), download: $('download'), level: $('level'), raw: $('raw'),
  times: $('times'), help: $('help'), helpButton: $('help-button'), helpClose: $('help-close'),
  chart: $('chart'), legend: $('legend'), older: $('older'), path: $('path')
};
const params = new URLSearchParams(location.search);
const token = params.get('token') || ''; // logtaild --token: carried on to the streams and the download

let paths;
try {
  paths = JSON.parse(body.dataset.paths || '[]');
} catch (e) {
  paths = [];
}
if (!paths.length && body.dataset.path) paths = [body.dataset.path];
const here = body.dataset.here === '1'; // this page's URL is its one stream's

const initialLines = numberOr(body.dataset.lines, 1000, 0);
const pageLines = numberOr(body.dataset.page, 500, 1);
let cap = clampCap(parseInt(body.dataset.cap, 10));
let extraKeep = 0;      // older lines loaded on request, kept beyond the cap until End

let paused = false;
let pending = [];       // items and elements waiting for the next frame
let frameQueued = false;
let stick = true;       // keep the newest line in view
let needle = null;      // the filter as a RegExp (global), or null
let grep = params.get('grep') || ''; // the daemon's filter (regex mode), '' for none
const exclude = params.get('exclude') || '';
let raw = false;        // JSON lines as written
let newLines = 0;       // lines written since the page opened
const total = new Rate();

function numberOr(s, def, min) {
  const n = parseInt(s, 10);
  return n >= min ? n : def;
}

function clampCap(n) {
  if (!(n > 0)) return 5000;
  return Math.max(100, Math.min(100000, n));
}

// --- files ----------------------------------------------------------------

// A file shown: its colour (idx), its own rate, whether it is shown, and
// where paging back stands.
const files = new Map(); // name → file
let fileCount = 0;
let nextColour = paths.length > 1 ? paths.length : 0;

// fileList is the files in the legend's order: the page's paths' order,
// then the order they came in.
function fileList() {
  return Array.from(files.values()).sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1]);
}

function fileOf(name, src) {
  let f = files.get(name);
  if (f) return f;
  // files chosen one by one keep their order and colour; those of a stream
  // of many come after, as they come
  const at = sources.indexOf(src);
  f = {
    name, src, idx: !src.many && sources.length > 1 ? at : nextColour++, order: [at, fileCount++],
    short: name, visible: true, rate: new Rate(),
    url: src.many ? pathURL(name) : src.url, // where its older lines are asked
    backlog: 0, scanLimited: false, atStart: false, unavailable: '', top: null, legend: null
  };
  files.set(name, f);
  shortNames();
  showLegend();
  return f;
}

// shortNames gives each file the fewest last path elements that tell it
// from the others: app.log, or api/app.log beside db/app.log.
function shortNames() {
  const all = Array.from(files.values());
  for (const f of all) {
    const parts = f.name.split('/').filter(Boolean);
    let n = 1;
    const suffix = (p, k) => p.slice(-k).join('/');
    while (n < parts.length && all.some((g) => g !== f && suffix(g.name.split('/').filter(Boolean), n) === suffix(parts, n))) n++;
    const short = suffix(parts, n) || f.name;
    if (short !== f.short) {
      f.short = short;
      for (const g of log.querySelectorAll('.gut')) {
        if (g.parentNode._f === f) g.dataset.f = short;
      }
      if (f.legend) f.legend.name.textContent = short;
    }
  }
}

function isMany() {
  return files.size > 1 || sources.some((s) => s.many);
}

const svgNS = 'http://www.w3.org/2000/svg';
function sparkline(cls, w, h) {
  const svg = document.createElementNS(svgNS, 'svg');
  svg.setAttribute('class', cls);
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-hidden', 'true');
  for (const c of ['area', 'stroke']) {
    const p = document.createElementNS(svgNS, 'path');
    p.setAttribute('class', c);
    svg.appendChild(p);
  }
  return svg;
}

// showLegend lists the files, each a button that shows or hides its lines,
// with its colour and its own rate.
function showLegend() {
  const many = isMany();
  log.classList.toggle('many', many);
  if (!ui.legend || !many) return;
  ui.legend.hidden = false;
  if (sources.length > 1 && ui.path) ui.path.hidden = true; // the legend names them
  for (const f of files.values()) {
    if (f.legend) continue;
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'file fc' + (f.idx % 8);
    b.dataset.file = f.name;
    b.setAttribute('aria-pressed', 'true');
    const dot = document.createElement('span');
    dot.className = 'dot';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = f.short;
    const spark = sparkline('spark', 48, 14);
    const rate = document.createElement('span');
    rate.className = 'rate';
    rate.textContent = '0/s';
    b.append(dot, name, spark, rate);
    b.addEventListener('click', () => setVisible(f, !f.visible));
    f.legend = { button: b, name, spark, rate };
  }
  // in order, each with its shortcut
  for (const f of fileList()) {
    ui.legend.appendChild(f.legend.button);
    legendTitle(f);
  }
}

function legendTitle(f) {
  if (!f.legend) return;
  const n = fileList().indexOf(f) + 1;
  let t = f.name + (f.visible ? ' — click to hide' : ' — hidden: click to show') + (n <= 9 ? ' (' + n + ')' : '');
  if (f.src.reason) t += '\n' + f.src.reason;
  f.legend.button.title = t;
  f.legend.button.classList.toggle('failed', !!f.src.reason);
}

function setVisible(f, on) {
  f.visible = on;
  if (f.legend) {
    f.legend.button.setAttribute('aria-pressed', String(on));
    legendTitle(f);
  }
  for (const el of log.children) {
    if (el._f === f && !el.classList.contains('gap')) el.classList.toggle('off', !on);
  }
  if (stick) toBottom();
  showOlder();
}


// --- the streams ----------------------------------------------------------

const sources = paths.map((p, i) => new Source({
  path: p,
  url: here && i === 0 ? location.pathname : undefined,
  lines: initialLines, grep, exclude, token,
  onMessage: receive, onState: sourceState, diagnose
}));

// With several files (or a stream of many), the last lines are held until
// every stream has sent them, and merged by time; at most this long.
let holding = sources.length > 1 || sources.some((s) => s.many);
let released = false;
let held = [], heldLive = [];
const holdTimer = setTimeout(release, 4000);

// diagnose finds out why a stream's handshake failed: a browser does not
// say. The same URL over plain HTTP answers with the status and the reason.
async function diagnose(src) {
  if (src.many) return '';
  const r = await fetch(location.origin + src.url + '?format=json&lines=0' + (token ? '&token=' + encodeURIComponent(token) : ''),
    { cache: 'no-store', headers: { Accept: 'application/x-ndjson' }, credentials: 'same-origin' });
  const text = (await r.text()).trim();
  if (r.ok || (r.status === 400 && /WebSocket/.test(text))) return ''; // readable: a passing failure
  return src.path + ': ' + r.status + ' ' + text;
}

function receive(src, m, live) {
  const name = src.many ? (m.file || src.path) : src.path;
  const f = fileOf(name, src);
  const items = [];
  if (m.event) {
    if (m.event === 'scan-limit') f.scanLimited = true;
    items.push({ event: m, f, live });
  } else if (m.lines && m.lines.length) {
    const n = m.lines.length, now = Date.now();
    for (let i = 0; i < n; i++) items.push({ html: m.lines[i], f, end: m.pos, after: n - 1 - i, live, at: now });
    if (live) {
      f.rate.add(n, now);
      total.add(n, now);
      newLines += n;
    } else {
      f.backlog += n;
    }
  }
  if (!items.length) return;
  if (!holding && !released && !live && src.many) holding = true; // a directory: merge its files too
  if (holding) {
    const to = live ? heldLive : held;
    for (const it of items) to.push(make(it));
    return;
  }
  for (const it of items) pending.push(it);
  // A hidden tab gets no animation frames: keep what waits bounded too.
  if (pending.length > 2 * cap) pending.splice(0, pending.length - cap);
  if (!frameQueued) {
    frameQueued = true;
    requestAnimationFrame(flush);
  }
}

function sourceState(src) {
  if (src.phase === 'follow') backlogDone(src);
  if (holding && sources.every((s) => s.phase === 'follow')) release();
  const f = files.get(src.path);
  if (f) legendTitle(f);
  showStatus();
}

// backlogDone: a file that sent fewer lines than asked (and whose search
// was not cut short) has nothing before them.
function backlogDone(src) {
  if (src.backlogSeen) return;
  src.backlogSeen = true;
  if (src.lines === 0) return;
  for (const f of files.values()) {
    if (f.src === src && f.backlog < src.lines && !f.scanLimited) f.atStart = true;
  }
  if (!src.many && !files.has(src.path)) fileOf(src.path, src).atStart = true; // an empty file
  showOlder();
}

// release puts the held last lines in the page, merged by time, then the
// lines that came meanwhile.
function release() {
  clearTimeout(holdTimer);
  released = true;
  if (!holding) return;
  holding = false;
  const runs = new Map();
  for (const el of held) {
    if (!runs.has(el._f)) runs.set(el._f, []);
    runs.get(el._f).push(el);
  }
  const merged = mergeByTime(Array.from(runs.values()), (el) => el._time);
  held = [];
  pending = merged.concat(heldLive, pending);
  heldLive = [];
  if (!frameQueued) {
    frameQueued = true;
    requestAnimationFrame(flush);
  }
}

// --- lines ----------------------------------------------------------------

function clock(ms) {
  const d = new Date(ms);
  const p = (n, w) => String(n).padStart(w || 2, '0');
  return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds()) + '.' + p(d.getMilliseconds(), 3);
}

// make is an item's element: a line (the daemon's HTML) or an event.
function make(it) {
  if (it.nodeType) return it;
  const el = document.createElement('div');
  el._f = it.f;
  if (it.event) {
    fillEvent(el, it.event);
    el._time = NaN;
  } else {
    el.className = 'line';
    el.innerHTML = it.html; // the daemon's escaped HTML: only <span class="term-…">
    const d = describe(el.textContent);
    el._end = it.end;
    el._after = it.after;
    el._time = d.time;
    if (d.rec) {
      el._html = it.html;
      el._rec = d.rec;
      el.classList.add('json');
      if (!body.classList.contains('has-json')) body.classList.add('has-json');
      if (!raw) el.replaceChildren(...recordNodes(d.rec));
    }
    if (d.level) el.classList.add('lv-' + d.level);
  }
  el.classList.add('fc' + (it.f.idx % 8));
  if (!it.f.visible && !el.classList.contains('gap')) el.classList.add('off');
  const g = document.createElement('span');
  g.className = 'gut';
  g.dataset.f = it.f.short;
  if (it.live) g.dataset.t = clock(it.at || Date.now());
  el.prepend(g);
  if (needle && !it.event) mark(el);
  return el;
}

function fillEvent(el, m) {
  const gap = m.event === 'gap';
  // never marked by the filter: .event lines are always shown
  el.className = 'line event' + (gap ? ' gap' : '') + (m.event === 'start' ? ' start' : '') + (m.event === 'failed' ? ' failed' : '');
  let text;
  switch (m.event) {
    case 'gap': text = gapText(m); break;
    case 'rotated': text = 'file rotated'; break;
    case 'truncated': text = 'file truncated'; break;
    case 'joined': text = 'file joined: ' + (m.file || ''); break;
    case 'left': text = 'file left: ' + (m.file || ''); break;
    case 'start': text = 'start of ' + m.file; break;
    default: text = m.event;
  }
  if (m.reason && m.event !== 'gap') text += ': ' + m.reason;
  el.textContent = (gap || m.event === 'failed' ? '⚠ ' : '— ') + text + (gap || m.event === 'failed' ? '' : ' —');
}

// gapText says that lines will never be shown, and why: unlike a rotation
// or a truncation, something is missing from the page.
function gapText(m) {
  let t = 'lines lost: ' + (m.reason || 'unknown reason');
  const more = [];
  if (typeof m.bytes === 'number') more.push(m.bytes + ' bytes');
  if (m.file) more.push('file ' + m.file);
  if (more.length) t += ' (' + more.join('; ') + ')';
  return t;
}

// showRecord shows a JSON line as a record or as written, keeping its
// gutter and marks.
function showRecord(el) {
  const g = el.firstChild && el.firstChild.className === 'gut' ? el.firstChild : null;
  if (raw) el.innerHTML = el._html; else el.replaceChildren(...recordNodes(el._rec));
  if (g) el.prepend(g);
  if (needle) mark(el);
}

// flush puts the waiting lines into the page, one element each, in one
// fragment, then drops the oldest beyond the cap.
function flush() {
  frameQueued = false;
  let items = pending;
  pending = [];
  if (items.length > cap) items = items.slice(items.length - cap);
  const frag = document.createDocumentFragment();
  for (const it of items) frag.appendChild(make(it));
  log.appendChild(frag);
  trim();
  if (stick) toBottom();
  if (!statusTimer) statusTimer = setTimeout(showStatus, Math.max(0, 250 - (Date.now() - shownAt)));
}

function trim() {
  const excess = log.childElementCount - cap - extraKeep;
  if (excess <= 0) return;
  // reading older lines: what stays must not move
  const keep = !stick ? log.children[excess] : null;
  const top = keep ? keep.getBoundingClientRect().top : 0;
  // a file whose first lines go is no longer shown from its start
  for (let i = 0; i < excess; i++) {
    const f = log.children[i]._f;
    if (f) f.atStart = false;
  }
  const r = document.createRange();
  r.setStartBefore(log.firstChild);
  r.setEndAfter(log.children[excess - 1]);
  r.deleteContents();
  if (keep) window.scrollBy(0, keep.getBoundingClientRect().top - top);
  showOlder();
}

function toBottom() {
  const se = document.scrollingElement;
  se.scrollTop = se.scrollHeight;
}

function atBottom() {
  const se = document.scrollingElement;
  return se.scrollHeight - se.scrollTop - se.clientHeight < 8;
}

// --- older lines ----------------------------------------------------------

let loadingOlder = false;
let lastY = 0;

window.addEventListener('scroll', () => {
  stick = atBottom();
  const y = document.scrollingElement.scrollTop;
  if (y <= 4 && y < lastY) loadOlder();
  lastY = y;
}, { passive: true });
window.addEventListener('wheel', (e) => {
  if (e.deltaY < 0 && document.scrollingElement.scrollTop <= 4) loadOlder();
}, { passive: true });
if (ui.older) {
  ui.older.addEventListener('click', loadOlder);
  ui.older.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      loadOlder();
    }
  });
}

function firstLineOf(f) {
  for (const el of log.children) {
    if (el._f === f && el._end) return el;
  }
  return null;
}

// pagedFiles are the files shown that may have older lines.
function pagedFiles() {
  return Array.from(files.values()).filter((f) => f.visible && !f.atStart && !f.unavailable);
}

// loadOlder asks each file shown for the lines before its first one, and
// puts them above, merged by time; the view stays where it was.
async function loadOlder() {
  if (loadingOlder || holding) return;
  const targets = pagedFiles();
  if (!targets.length) {
    showOlder();
    return;
  }
  loadingOlder = true;
  showOlder();
  const runs = [];
  await Promise.all(targets.map(async (f) => {
    const first = firstLineOf(f);
    let pos, drop;
    if (first && first._start) {
      pos = first._start; // the first line of a page: where it begins
      drop = 0;
    } else if (first) {
      // the first line shown ends no message: ask for the lines up to the
      // end of its message, and drop those already shown
      pos = first._end;
      drop = first._after + 1;
    } else if (f.top) {
      pos = f.top; // the last page brought nothing but where it began
      drop = 0;
    } else {
      return; // none of its lines is shown any more: no position to start from
    }
    let page;
    try {
      page = await f.src.before(f.url, pos, pageLines + drop);
    } catch (e) {
      if (e.status === 501) f.unavailable = 'older lines: this logtaild does not serve them yet (before=)';
      else if (e.status === 404) f.unavailable = 'older lines: ' + f.short + ' is gone';
      else if (e.status) f.unavailable = 'older lines of ' + f.short + ': ' + e.message;
      else f.olderError = 'older lines: cannot reach logtaild; scroll up to try again';
      return;
    }
    f.olderError = '';
    // the page's lines, each knowing the message it ends (a page over
    // about 1 MiB comes as several), less the ones already shown
    const items = [];
    for (const m of page) {
      const n = m.lines.length;
      for (let i = 0; i < n; i++) items.push({ html: m.lines[i], f, end: m.pos, after: n - 1 - i });
    }
    const keep = Math.max(0, items.length - drop);
    const els = items.slice(0, keep).map(make);
    const start = page[0].start;
    if (els.length) els[0]._start = start;
    else if (first && items.length === drop) first._start = start; // the page began with it
    f.top = start;
    if (offsetOf(start) === 0 || (keep === 0 && start === pos)) {
      f.atStart = true;
      els.unshift(make({ event: { event: 'start', file: f.name }, f }));
    }
    runs.push(els);
  }));
  prepend(mergeByTime(runs, (el) => el._time));
  loadingOlder = false;
  showOlder();
}

function prepend(els) {
  if (!els.length) return;
  const ref = log.firstElementChild;
  const top = ref ? ref.getBoundingClientRect().top : 0;
  const frag = document.createDocumentFragment();
  for (const el of els) frag.appendChild(el);
  log.insertBefore(frag, log.firstChild);
  extraKeep += els.length;
  if (ref) window.scrollBy(0, ref.getBoundingClientRect().top - top);
  lastY = document.scrollingElement.scrollTop;
  stick = atBottom();
}

// showOlder says, above the first line, whether older lines can be loaded.
function showOlder() {
  if (!ui.older) return;
  const shown = Array.from(files.values()).filter((f) => f.visible);
  let state, text;
  if (!shown.length) {
    state = 'idle';
    text = '';
  } else if (loadingOlder) {
    state = 'loading';
    text = 'loading older lines…';
  } else if (shown.every((f) => f.atStart)) {
    state = 'start';
    text = shown.length > 1 ? 'start of the files' : 'start of the file';
  } else if (shown.every((f) => f.atStart || f.unavailable)) {
    state = 'unavailable';
    text = shown.filter((f) => f.unavailable).map((f) => f.unavailable)[0];
  } else {
    state = 'idle';
    const err = shown.map((f) => f.olderError).filter(Boolean)[0];
    text = err || '↑ older lines: scroll up, or click here';
  }
  ui.older.dataset.state = state;
  ui.older.textContent = text;
  ui.older.hidden = !text;
}

// --- filter ---------------------------------------------------------------

// toRegExp is the daemon's RE2 expression as a JavaScript one, for marking:
// a leading (?i) becomes the i flag. What JavaScript cannot read is not
// marked (the daemon still filters).
function toRegExp(re) {
  let flags = 'g';
  const m = /^\(\?([a-zA-Z]+)\)/.exec(re);
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
  const marks = el.getElementsByTagName('mark');
  if (!marks.length) return;
  while (marks.length) {
    const mk = marks[0];
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
  const text = el.textContent;
  const ranges = [];
  needle.lastIndex = 0;
  let m;
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
  const nodes = [], starts = [];
  let at = 0;
  const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    nodes.push(n);
    starts.push(at);
    at += n.data.length;
  }
  // from the last range backwards, so earlier offsets stay right
  for (let r = ranges.length - 1; r >= 0; r--) {
    for (let i = nodes.length - 1; i >= 0; i--) {
      const s0 = Math.max(ranges[r][0], starts[i]);
      const e0 = Math.min(ranges[r][1], starts[i] + nodes[i].data.length);
      if (s0 >= e0) continue;
      const node = nodes[i];
      node.splitText(e0 - starts[i]); // the text after the match: a node of its own
      const mid = node.splitText(s0 - starts[i]);
      const mk = document.createElement('mark');
      mid.parentNode.replaceChild(mk, mid);
      mk.appendChild(mid);
      // node keeps the text before the match, where earlier ranges lie
    }
  }
}

function refilter() {
  const text = ui.filter ? ui.filter.value : '';
  const regexMode = !!(ui.regex && ui.regex.checked);
  needle = !text ? null : regexMode ? toRegExp(text) : new RegExp(escapeRegExp(text), 'gi');
  if (ui.filter) ui.filter.classList.toggle('bad', regexMode && !!text && !needle);
  for (const el of log.children) {
    if (!el.classList.contains('event')) mark(el);
  }
  log.classList.toggle('only', !!needle && !!(ui.only && ui.only.checked));
  if (stick) toBottom();
  setGrep(regexMode ? text : '');
}

// setGrep changes the daemon's filter: the streams reconnect from their
// last positions with it, and the page's URL keeps it.
function setGrep(g) {
  if (g === grep) return;
  grep = g;
  const q = new URLSearchParams(location.search);
  if (grep) q.set('grep', grep); else q.delete('grep');
  const qs = q.toString();
  history.replaceState(null, '', location.pathname + (qs ? '?' + qs : ''));
  for (const s of sources) s.setFilter(grep, exclude);
}

// --- controls -------------------------------------------------------------

function setPaused(p) {
  if (p === paused) return;
  paused = p;
  if (ui.pause) {
    ui.pause.textContent = p ? 'resume' : 'pause';
    ui.pause.setAttribute('aria-pressed', String(p));
  }
  for (const s of sources) {
    if (p) s.pause(); else s.resume();
  }
  showStatus();
}

function setWrap(on) {
  log.classList.toggle('wrap', on);
  if (ui.wrap) ui.wrap.checked = on;
  if (stick) toBottom();
}

function setRaw(on) {
  raw = on;
  if (ui.raw) ui.raw.checked = on;
  for (const el of log.children) {
    if (el._rec) showRecord(el);
  }
  if (stick) toBottom();
}

function setTimes(on) {
  log.classList.toggle('times', on);
  if (ui.times) ui.times.checked = on;
}

const levels = ['', 'debug', 'info', 'warn', 'error'];
function setLevel(l) {
  if (levels.indexOf(l) < 0) l = '';
  if (l) log.dataset.min = l; else delete log.dataset.min;
  if (ui.level) ui.level.value = l;
  if (stick) toBottom();
}

const themes = ['auto', 'dark', 'light'];
function setTheme(t) {
  if (themes.indexOf(t) < 0) t = 'auto';
  const root = document.documentElement;
  root.classList.remove('theme-dark', 'theme-light');
  if (t !== 'auto') root.classList.add('theme-' + t);
  if (ui.theme) ui.theme.textContent = t;
  try { localStorage.setItem('logtail-theme', t); } catch (e) { /* storage may be off in an iframe */ }
}
function currentTheme() {
  const root = document.documentElement;
  return root.classList.contains('theme-dark') ? 'dark' : root.classList.contains('theme-light') ? 'light' : 'auto';
}

function jumpToBottom() {
  stick = true;
  extraKeep = 0;
  trim();
  toBottom();
}

function toTop() {
  document.scrollingElement.scrollTop = 0;
  stick = atBottom();
  loadOlder();
}

let helpReturn = null;
function setHelp(open) {
  if (!ui.help || open === !ui.help.hidden) return;
  ui.help.hidden = !open;
  if (open) {
    helpReturn = document.activeElement;
    if (ui.helpClose) ui.helpClose.focus();
  } else if (helpReturn && helpReturn.focus) {
    helpReturn.focus();
  }
}

if (ui.pause) ui.pause.addEventListener('click', () => setPaused(!paused));
if (ui.filter) {
  let filterTimer = 0;
  ui.filter.addEventListener('input', () => {
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
  if (paths.length === 1) {
    ui.download.href = (here ? location.pathname : pathURL(paths[0])) + '?download=1' + (token ? '&token=' + encodeURIComponent(token) : '');
  }
  ui.download.hidden = paths.length !== 1 || paths[0].indexOf('*') >= 0;
}
if (ui.only) ui.only.addEventListener('change', refilter);
if (ui.wrap) ui.wrap.addEventListener('change', () => setWrap(ui.wrap.checked));
if (ui.raw) ui.raw.addEventListener('change', () => setRaw(ui.raw.checked));
if (ui.times) ui.times.addEventListener('change', () => setTimes(ui.times.checked));
if (ui.level) ui.level.addEventListener('change', () => setLevel(ui.level.value));
if (ui.cap) {
  ui.cap.addEventListener('change', () => {
    cap = clampCap(parseInt(ui.cap.value, 10));
    ui.cap.value = cap;
    trim();
  });
}
if (ui.theme) ui.theme.addEventListener('click', () => setTheme(themes[(themes.indexOf(currentTheme()) + 1) % themes.length]));
if (ui.bottom) ui.bottom.addEventListener('click', jumpToBottom);
if (ui.helpButton) ui.helpButton.addEventListener('click', () => setHelp(ui.help.hidden));
if (ui.helpClose) ui.helpClose.addEventListener('click', () => setHelp(false));
if (ui.help) ui.help.addEventListener('click', (e) => { if (e.target === ui.help) setHelp(false); });

// typing says whether keys go to a field being typed in (a checkbox or a
// button does not take letters: shortcuts still work there).
function typing(t) {
  if (!t || !t.tagName) return false;
  if (t.tagName === 'INPUT') return ['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color'].indexOf(t.type) < 0;
  return t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable;
}

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (e.key === 'Escape' && ui.help && !ui.help.hidden) {
    setHelp(false);
    e.preventDefault();
    return;
  }
  if (typing(t)) {
    if (e.key === 'Escape') t.blur();
    return;
  }
  switch (e.key) {
    case '?': setHelp(ui.help && ui.help.hidden); break;
    case 'p': setPaused(!paused); break;
    case 'w': setWrap(!log.classList.contains('wrap')); break;
    case 'r': setRaw(!raw); break;
    case 't': setTimes(!log.classList.contains('times')); break;
    case 'l': setLevel(levels[(levels.indexOf(log.dataset.min || '') + 1) % levels.length]); break;
    case '/':
      if (!ui.filter) return;
      ui.filter.focus();
      break;
    case 'End': jumpToBottom(); break;
    case 'Home': toTop(); break;
    default: {
      const n = e.key >= '1' && e.key <= '9' ? Number(e.key) : 0;
      const f = n && isMany() ? fileList()[n - 1] : null;
      if (!f) return;
      setVisible(f, !f.visible);
    }
  }
  e.preventDefault();
});

// --- status ---------------------------------------------------------------

// pageState is the streams' state, as one: connected when all are.
function pageState() {
  if (paused) return 'paused';
  const st = sources.map((s) => s.state);
  if (st.length && st.every((s) => s === 'connected')) return 'connected';
  if (st.some((s) => s === 'reconnecting' || s === 'refused')) return 'reconnecting';
  return 'connecting';
}

let shownAt = 0, statusTimer = 0;
function showStatus() {
  clearTimeout(statusTimer);
  statusTimer = 0;
  shownAt = Date.now();
  const state = pageState();
  body.dataset.state = state;
  body.dataset.newLines = String(newLines);
  const now = Date.now();
  const rate = total.perSecond(now);
  body.dataset.rate = rate.toFixed(2);
  if (ui.chart) drawChart(ui.chart, total.series(now));
  for (const f of files.values()) {
    if (!f.legend) continue;
    f.legend.rate.textContent = formatRate(f.rate.perSecond(now)) + '/s';
    drawChart(f.legend.spark, f.rate.series(now), f.short);
  }
  if (!ui.status) return;
  const refused = sources.filter((s) => s.reason).map((s) => s.reason);
  ui.status.dataset.state = state;
  ui.status.classList.toggle('refused', refused.length > 0);
  ui.status.textContent = (refused.length ? refused.join('; ') + ' · ' : '') + state + ' · ' +
    formatRate(rate) + ' lines/s · ' + log.childElementCount + ' shown';
  ui.status.title = newLines + ' lines written since the page opened';
}
setInterval(showStatus, 1000);

try { setTheme(localStorage.getItem('logtail-theme') || 'auto'); } catch (e) { setTheme('auto'); }
if (grep) needle = toRegExp(grep);
showOlder();
showStatus();
for (const s of sources) s.start();
