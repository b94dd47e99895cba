// logtail index: the files under the roots, searched, sorted and refreshed
// live, a few selected to follow merged in one view, or a pattern followed
// as one stream.
//
// The page the daemon rendered (a page of 500 files, sorted by name) works
// without this script. With it, the whole listing is read as JSON
// (Accept: application/json, 5,000 files a request) and read again every few
// seconds: sizes and modification times change in place, and the search,
// the sort, the page and the selection stay. The search is a substring of
// the path, any case, or, when it is an absolute path with a '*' (or ending
// in '/'), a pattern as the daemon reads it (filepath.Match, each '*' within
// one path element): the button then follows every file it matches, now and
// later, as one stream. The state is kept in the page's URL (q=, sort=,
// dir=, offset=, limit=) so a link or a reload shows the same.

import { pathURL } from './stream.js';

const $ = (id) => document.getElementById(id);
const body = document.body;
const table = $('files');
const tbody = table.tBodies[0];
const search = $('search');
const openButton = $('open');
const patternButton = $('open-pattern');
const status = $('index-status');
const selectAll = $('select-all');
const pager = document.querySelector('.pager');

const params = new URLSearchParams(location.search);
const token = params.get('token') || '';
const defaultDir = { name: 'asc', size: 'desc', mtime: 'desc' };
const state = {
  q: params.get('q') || '',
  sort: defaultDir[params.get('sort')] ? params.get('sort') : 'name',
  dir: '',
  offset: whole(params.get('offset'), whole(body.dataset.offset, 0)),
  limit: whole(params.get('limit'), whole(body.dataset.limit, 500)) || 500
};
state.dir = params.get('dir') === 'asc' || params.get('dir') === 'desc' ? params.get('dir') : defaultDir[state.sort];

let listing = null;        // {files, total, truncated, cut} from the JSON
const selected = new Set(); // names
let refreshedAt = 0;
let refreshError = '';

function whole(s, def) {
  const n = parseInt(s, 10);
  return n >= 0 ? n : def;
}

// --- the listing ------------------------------------------------------------

async function fetchListing() {
  const files = [];
  let offset = 0, last = null;
  for (let i = 0; i < 40; i++) { // 200,000 files at most; the walk stops before
    const r = await fetch('/?offset=' + offset + '&limit=5000' + (token ? '&token=' + encodeURIComponent(token) : ''),
      { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' });
    if (!r.ok) throw new Error(r.status + ' ' + (await r.text()).trim());
    last = await r.json();
    for (const f of last.files) files.push(f);
    if (!last.next || !last.files.length) break;
    offset += last.files.length;
  }
  const seen = new Set();
  return {
    files: files.filter((f) => !seen.has(f.name) && seen.add(f.name)), // pages of two walks may overlap
    total: last ? last.total : 0, truncated: !!(last && last.truncated), cut: last ? last.cut : ''
  };
}

async function refresh() {
  let wait = 3000;
  if (document.hidden) {
    setTimeout(refresh, 1000);
    return;
  }
  try {
    listing = await fetchListing();
    refreshedAt = Date.now();
    refreshError = '';
    body.dataset.refreshes = String(+(body.dataset.refreshes || 0) + 1);
    const names = new Set(listing.files.map((f) => f.name));
    for (const n of selected) if (!names.has(n)) selected.delete(n);
    wait *= Math.max(1, Math.ceil(listing.files.length / 5000)); // a big tree is read less often
    render();
  } catch (e) {
    refreshError = 'cannot refresh: ' + e.message;
    showStatus(null);
    wait = 10000;
  }
  setTimeout(refresh, wait);
}

// --- search and sort --------------------------------------------------------

// isPattern says whether the search is a pattern the daemon follows as one
// stream: an absolute path with a '*', or a directory (ending in '/').
function isPattern(q) {
  return q.startsWith('/') && (q.indexOf('*') >= 0 || (q.endsWith('/') && q.length > 1));
}

// patternRE is a filepath.Match pattern as a RegExp on a whole path: '*'
// and '?' within one element, [...] classes, '\' escapes.
function patternRE(p) {
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < p.length) re += '\\' + p[++i];
    else if (c === '[') {
      const end = p.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let cls = p.slice(i + 1, end);
      if (cls[0] === '^') cls = '^' + cls.slice(1).replace(/[\\\]]/g, '\\$&');
      else cls = cls.replace(/[\\\]^]/g, '\\$&');
      re += '(?!/)[' + cls + ']';
      i = end;
    } else re += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  try {
    return new RegExp('^' + re + '$');
  } catch (e) {
    return null;
  }
}

function matcher(q) {
  q = q.trim();
  if (!q) return () => true;
  if (isPattern(q)) {
    if (q.indexOf('*') < 0) { // a directory: the files right in it
      const dir = q.replace(/\/+$/, '');
      return (f) => f.name.slice(0, f.name.lastIndexOf('/')) === dir && !f.name.slice(dir.length + 1).startsWith('.');
    }
    const re = patternRE(q);
    return re ? (f) => re.test(f.name) && !f.name.slice(f.name.lastIndexOf('/') + 1).startsWith('.') : () => false;
  }
  const low = q.toLowerCase();
  return (f) => f.name.toLowerCase().indexOf(low) >= 0;
}

function compare(a, b) {
  let c = 0;
  if (state.sort === 'size') c = a.size - b.size;
  else if (state.sort === 'mtime') c = Date.parse(a.mtime) - Date.parse(b.mtime);
  if (c === 0) c = a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  return state.dir === 'desc' ? -c : c;
}

// --- the page ---------------------------------------------------------------

function humanSize(n) {
  if (n < 1024) return n + ' B';
  let div = 1024, exp = 0;
  for (let m = Math.floor(n / 1024); m >= 1024; m = Math.floor(m / 1024)) {
    div *= 1024;
    exp++;
  }
  const v = n / div;
  return (v < 10 ? v.toFixed(1) : v.toFixed(0)) + ' ' + 'KMGTPE'[exp] + 'iB';
}

function age(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return Math.floor(s / 86400) + ' d ago';
}

function fileURL(f) {
  return f.url + (token ? '?token=' + encodeURIComponent(token) : '');
}

function cell(cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  return td;
}

function fillSize(td, f) {
  td.textContent = humanSize(f.size);
  td.title = f.size + ' bytes';
}

function fillTime(td, f) {
  const t = document.createElement('time');
  t.dateTime = f.mtime;
  t.textContent = f.mtime.slice(0, 10) + ' ' + f.mtime.slice(11, 19);
  const a = document.createElement('span');
  a.className = 'age';
  a.textContent = ' · ' + age(Date.parse(f.mtime));
  td.replaceChildren(t, a);
}

function row(f) {
  const tr = document.createElement('tr');
  tr.dataset.name = f.name;
  tr._file = f;
  const sel = cell('sel');
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.checked = selected.has(f.name);
  box.setAttribute('aria-label', 'select ' + f.name);
  sel.appendChild(box);
  const name = cell('name');
  const a = document.createElement('a');
  a.href = fileURL(f);
  const cut = f.name.lastIndexOf('/') + 1;
  const dir = document.createElement('span');
  dir.className = 'dir';
  dir.textContent = f.name.slice(0, cut);
  a.append(dir, f.name.slice(cut));
  name.appendChild(a);
  const size = cell('num');
  fillSize(size, f);
  const time = cell('');
  fillTime(time, f);
  tr.append(sel, name, size, time);
  tr.classList.toggle('selected', box.checked);
  return tr;
}

// update refreshes a row's size and time in place, flashing what changed.
function update(tr, f) {
  const old = tr._file;
  tr._file = f;
  const [, , size, time] = tr.cells;
  if (!old || old.size !== f.size) {
    fillSize(size, f);
    flash(size);
  }
  if (!old || old.mtime !== f.mtime) {
    fillTime(time, f);
    flash(time);
  } else {
    time.lastChild.textContent = ' · ' + age(Date.parse(f.mtime));
  }
}

function flash(td) {
  td.classList.remove('changed');
  void td.offsetWidth; // restart the animation
  td.classList.add('changed');
}

function urlFor(s) {
  const q = new URLSearchParams();
  if (s.q) q.set('q', s.q);
  if (s.sort !== 'name') q.set('sort', s.sort);
  if (s.dir !== defaultDir[s.sort]) q.set('dir', s.dir);
  q.set('offset', String(s.offset));
  q.set('limit', String(s.limit));
  if (token) q.set('token', token);
  return '/?' + q.toString();
}

function pageLink(id, rel, text, offset) {
  const a = document.createElement('a');
  a.id = id;
  a.rel = rel;
  a.href = urlFor(Object.assign({}, state, { offset }));
  a.textContent = text;
  a.addEventListener('click', (e) => {
    if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    state.offset = offset;
    render();
    history.pushState(null, '', urlFor(state));
    window.scrollTo(0, 0);
  });
  return a;
}

let shown = [];  // the files of the page shown
let matching = 0;

function render() {
  if (!listing) return;
  const match = matcher(state.q);
  const list = listing.files.filter(match).sort(compare);
  matching = list.length;
  if (state.offset >= list.length && list.length) state.offset = Math.floor((list.length - 1) / state.limit) * state.limit;
  shown = list.slice(state.offset, state.offset + state.limit);

  const rows = Array.from(tbody.rows);
  if (rows.length === shown.length && rows.every((tr, i) => tr.dataset.name === shown[i].name)) {
    rows.forEach((tr, i) => update(tr, shown[i]));
  } else {
    const frag = document.createDocumentFragment();
    for (const f of shown) frag.appendChild(row(f));
    tbody.replaceChildren(frag);
  }

  const prev = state.offset > 0 ? pageLink('prev', 'prev', '← previous ' + state.limit, Math.max(0, state.offset - state.limit)) : null;
  const next = state.offset + state.limit < list.length ? pageLink('next', 'next', 'next ' + state.limit + ' →', state.offset + state.limit) : null;
  pager.replaceChildren(...[prev, next].filter(Boolean));

  for (const th of table.tHead.rows[0].cells) {
    if (!th.dataset.sort) continue;
    if (th.dataset.sort === state.sort) th.setAttribute('aria-sort', state.dir === 'asc' ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  }
  showSelection();
  showPattern();
  showStatus(list);
}

function showStatus(list) {
  let t;
  if (!listing) {
    t = status.textContent;
  } else if (!matching) {
    t = state.q ? 'no file matches' : 'no files';
  } else {
    t = (state.offset + 1) + '–' + (state.offset + shown.length) + ' of ' + matching +
      (state.q ? ' matching (' + listing.files.length + ' files)' : '');
    if (listing.truncated) t += ' · the listing stopped early (' + listing.cut + '): there may be more files';
  }
  if (refreshError) t += ' · ' + refreshError;
  status.textContent = t;
  if (refreshedAt) status.title = 'refreshed at ' + new Date(refreshedAt).toLocaleTimeString();
  void list;
}

function showSelection() {
  const boxes = Array.from(tbody.querySelectorAll('.sel input'));
  const on = boxes.filter((b) => b.checked).length;
  selectAll.checked = boxes.length > 0 && on === boxes.length;
  selectAll.indeterminate = on > 0 && on < boxes.length;
  openButton.disabled = selected.size === 0;
  openButton.textContent = selected.size > 1 ? 'open ' + selected.size + ' merged' : selected.size === 1 ? 'open 1 selected' : 'open selected';
}

function showPattern() {
  const q = state.q.trim();
  patternButton.hidden = !isPattern(q);
  if (!patternButton.hidden) {
    patternButton.textContent = 'follow the pattern (' + matching + (matching === 1 ? ' file now)' : ' files now)');
    patternButton.title = 'follow every file ' + q + ' matches, now and later, as one stream';
  }
}

// --- actions ----------------------------------------------------------------

function openSelected() {
  const names = Array.from(selected).sort();
  if (!names.length) return;
  if (names.length === 1) {
    const f = listing && listing.files.find((g) => g.name === names[0]);
    location.href = f ? fileURL(f) : pathURL(names[0]);
    return;
  }
  const q = new URLSearchParams();
  for (const n of names) q.append('path', n);
  if (token) q.set('token', token);
  location.href = '/_logtail/view?' + q.toString();
}

function openPattern() {
  const q = state.q.trim();
  if (!isPattern(q)) return;
  location.href = pathURL(q.length > 1 ? q.replace(/\/+$/, '') : q) + (token ? '?token=' + encodeURIComponent(token) : '');
}

tbody.addEventListener('change', (e) => {
  const box = e.target;
  if (!box.matches('.sel input')) return;
  const tr = box.closest('tr');
  if (box.checked) selected.add(tr.dataset.name); else selected.delete(tr.dataset.name);
  tr.classList.toggle('selected', box.checked);
  showSelection();
});

selectAll.addEventListener('change', () => {
  for (const tr of tbody.rows) {
    const box = tr.querySelector('.sel input');
    box.checked = selectAll.checked;
    if (box.checked) selected.add(tr.dataset.name); else selected.delete(tr.dataset.name);
    tr.classList.toggle('selected', box.checked);
  }
  showSelection();
});

table.tHead.addEventListener('click', (e) => {
  const th = e.target.closest('th[data-sort]');
  if (!th) return;
  const key = th.dataset.sort;
  if (key === state.sort) state.dir = state.dir === 'asc' ? 'desc' : 'asc';
  else {
    state.sort = key;
    state.dir = defaultDir[key];
  }
  state.offset = 0;
  render();
  history.replaceState(null, '', urlFor(state));
});

let searchTimer = 0;
search.value = state.q;
search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    state.q = search.value;
    state.offset = 0;
    render();
    showPattern();
    history.replaceState(null, '', urlFor(state));
  }, 80);
});
search.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') search.blur();
  if (e.key !== 'Enter') return;
  clearTimeout(searchTimer);
  state.q = search.value;
  render();
  if (isPattern(state.q.trim())) openPattern();
  else if (shown.length === 1) location.href = fileURL(shown[0]);
});
openButton.addEventListener('click', openSelected);
patternButton.addEventListener('click', openPattern);

document.addEventListener('keydown', (e) => {
  if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) return;
  e.preventDefault();
  search.focus();
});

window.addEventListener('popstate', () => {
  const p = new URLSearchParams(location.search);
  state.offset = whole(p.get('offset'), 0);
  render();
});

try { // the viewer's theme
  const t = localStorage.getItem('logtail-theme');
  if (t === 'dark' || t === 'light') document.documentElement.classList.add('theme-' + t);
} catch (e) { /* storage may be off */ }
showPattern();
refresh();
