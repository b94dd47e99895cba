// A followed stream of logtaild, in the protocol written once in wire/doc.go
// (go doc github.com/logtail/logtail/wire): used by the viewer's pages and
// by the <logtail-log> element. This module imports nothing, so that the
// element can load it from another site's page with the script's own query.
//
// A Source is one URL: a file, or many (a directory or a pattern, which the
// daemon serves as one stream whose messages each name their "file"). It
// first reads the last lines (lines=N without tail=1: the stream ends with
// 1000 after them), then follows from where they ended (tail=1&from=...), so
// that the lines of the second phase are exactly those written since: a
// page can count them for its rate. Every reconnection resumes: from=POS
// for a file, from=CURSOR for many files (the last pos of each file, as
// wire.Cursor writes it), so no line is lost or repeated.

// pathURL is a path on the daemon as a URL path: each element escaped, the
// slashes and the '*' of a pattern kept.
export function pathURL(path) {
  return path.split('/').map(encodeURIComponent).join('/');
}

// offsetOf is a position's byte offset, its last field (wire.OffsetOf);
// NaN when it has none.
export function offsetOf(pos) {
  const i = typeof pos === 'string' ? pos.lastIndexOf(':') : -1;
  return i < 0 ? NaN : Number(pos.slice(i + 1));
}

const utf8 = new TextEncoder();

// compareUTF8 orders strings by their UTF-8 bytes, as Go compares strings.
function compareUTF8(a, b) {
  const x = utf8.encode(a), y = utf8.encode(b);
  for (let i = 0; i < x.length && i < y.length; i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

// goJSONString is JSON.stringify(s) as Go's encoding/json writes it: it
// also escapes <, >, & and U+2028, U+2029.
function goJSONString(s) {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

// cursorString is wire.Cursor.String: "c1." and base64url without padding
// of the JSON object file → position, its keys sorted as Go sorts a map's.
export function cursorString(positions) {
  const files = Array.from(positions.keys()).sort(compareUTF8);
  const json = '{' + files.map((f) => goJSONString(f) + ':' + goJSONString(positions.get(f))).join(',') + '}';
  let bin = '';
  for (const b of utf8.encode(json)) bin += String.fromCharCode(b);
  return 'c1.' + btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// Source follows one URL. o: {path, url (the path as a URL path, default
// pathURL(path)), origin (the daemon's, default this page's), lines (the
// last lines to show first), grep, exclude, token, maxBackoff (ms),
// onMessage(source, message, live), onState(source), diagnose(source) (a
// promise of why a handshake was refused, '' when unknown)}. live is false
// for the last lines read first, true for the lines followed after them.
export class Source {
  constructor(o) {
    this.path = o.path;
    this.url = o.url || pathURL(o.path);
    this.origin = o.origin || location.origin;
    this.lines = o.lines >= 0 ? o.lines : 1000;
    this.grep = o.grep || '';
    this.exclude = o.exclude || '';
    this.token = o.token || '';
    this.maxBackoff = o.maxBackoff || 10000;
    this.onMessage = o.onMessage || function () {};
    this.onState = o.onState || function () {};
    this.diagnose = o.diagnose || null;
    this.many = this.path.indexOf('*') >= 0; // a directory says so with its first message
    this.pos = null;           // one file: the position after the last line taken
    this.cursor = new Map();   // many files: file → position
    this.phase = this.lines > 0 ? 'backlog' : 'follow';
    this.anchored = false;     // the last lines were read: follow from where they ended
    this.taken = 0;            // messages taken in this phase
    this.ws = null;
    this.paused = false;
    this.stopped = false;
    this.everOpened = false;
    this.backoff = 0;
    this.timer = 0;
    this.state = 'connecting';
    this.reason = '';          // why the daemon refuses, when known
  }

  start() { this.connect(); }

  // filters is the query's grep=, exclude= and token=.
  filters() {
    let q = '';
    if (this.grep) q += '&grep=' + encodeURIComponent(this.grep);
    if (this.exclude) q += '&exclude=' + encodeURIComponent(this.exclude);
    if (this.token) q += '&token=' + encodeURIComponent(this.token);
    return q;
  }

  // from is where a followed stream resumes, or null to start at the end.
  from() {
    if (this.many) return this.anchored || this.cursor.size ? cursorString(this.cursor) : null;
    return this.pos;
  }

  streamURL() {
    let q = 'format=json&html=1';
    if (this.phase === 'backlog') {
      q += '&lines=' + this.lines;
    } else {
      const from = this.from();
      q += '&tail=1' + (from ? '&from=' + encodeURIComponent(from) : '&lines=0');
    }
    return this.origin.replace(/^http/, 'ws') + this.url + '?' + q + this.filters();
  }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    this.onState(this);
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = 0;
    if (this.paused || this.stopped || this.ws) return;
    if (this.state !== 'refused') this.setState(this.everOpened ? 'reconnecting' : 'connecting');
    let sock;
    try {
      sock = new WebSocket(this.streamURL());
    } catch (e) {
      this.retry();
      return;
    }
    this.ws = sock;
    let opened = false;
    sock.onopen = () => {
      if (this.ws !== sock) return;
      opened = true;
      this.everOpened = true;
      this.reason = '';
      if (this.phase === 'follow') this.setState('connected');
      else if (this.state === 'refused') this.setState('connecting');
    };
    sock.onmessage = (ev) => {
      if (this.ws !== sock) return; // a socket closed on pause: its pos is not ours
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      this.take(m);
    };
    sock.onclose = (ev) => {
      if (this.ws !== sock) return;
      this.ws = null;
      if (this.phase === 'backlog' && (ev.code === 1000 || this.taken > 0)) {
        this.endBacklog(); // the rest, if the stream broke, comes with the followed lines
        this.connect();
        return;
      }
      if (this.paused || this.stopped) return;
      if (opened) {
        if (ev.code === 1013) this.backoff = 0; // too slow: resume at once
        this.retry();
        return;
      }
      this.refusedOrGone();
    };
  }

  endBacklog() {
    this.phase = 'follow';
    this.anchored = true;
    this.taken = 0;
    this.onState(this);
  }

  // refusedOrGone: the handshake failed. A browser does not say why; the
  // page's diagnose may find out (a refusal is shown, and retried slowly).
  async refusedOrGone() {
    let reason = '';
    if (this.diagnose) {
      try {
        reason = await this.diagnose(this);
      } catch (e) {
        reason = '';
      }
    }
    if (this.paused || this.stopped || this.ws) return;
    this.reason = reason || '';
    if (this.reason) {
      this.backoff = Math.max(this.backoff, this.maxBackoff / 2);
      this.setState('refused');
      this.onState(this); // the reason may have changed
    }
    this.retry();
  }

  retry() {
    this.backoff = this.backoff ? Math.min(this.backoff * 2, this.maxBackoff) : 250;
    const wait = this.backoff / 2 + Math.random() * this.backoff / 2;
    if (this.state !== 'refused') this.setState(this.everOpened ? 'reconnecting' : 'connecting');
    this.timer = setTimeout(() => this.connect(), wait);
  }

  // take records where the stream stands, then hands the message on.
  take(m) {
    const live = this.phase === 'follow';
    this.taken++;
    this.backoff = 0;
    if (!this.many && m.file && !m.event) this.many = true; // a directory: its messages name their files
    if (this.many) {
      if (m.event === 'left') this.cursor.delete(m.file);
      else if (m.file && m.pos) this.cursor.set(m.file, m.pos);
    } else if (m.pos) {
      this.pos = m.pos;
    }
    this.onMessage(this, m, live);
  }

  // close drops the socket; its messages are no longer ours, so the
  // position stays at the last line taken.
  close(why) {
    clearTimeout(this.timer);
    this.timer = 0;
    const sock = this.ws;
    this.ws = null;
    if (sock) sock.close(1000, why);
    if (this.phase === 'backlog' && this.taken > 0) this.endBacklog();
  }

  pause() {
    if (this.paused) return;
    this.paused = true;
    this.close('paused');
    this.setState('paused');
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    this.backoff = 0;
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.close('gone');
  }

  // setFilter changes the daemon's filter: the stream reconnects from the
  // last position with it.
  setFilter(grep, exclude) {
    grep = grep || '';
    exclude = exclude || '';
    if (grep === this.grep && exclude === this.exclude) return;
    this.grep = grep;
    this.exclude = exclude;
    if (this.paused || this.stopped) return;
    this.close('filter changed');
    this.backoff = 0;
    this.connect();
  }

  // before asks for the n lines that end at pos in the file at url (a
  // file's URL path: this source's, or one of its many files'), with this
  // source's filters: wire's "Paging back". It resolves to the messages of
  // the page ({lines, sizes, pos, start}; several for a page over about
  // 1 MiB), in the file's order; a refusal rejects with an Error whose
  // status is the HTTP status.
  async before(url, pos, n) {
    const q = 'format=json&html=1&before=' + encodeURIComponent(pos) + '&lines=' + n + this.filters();
    const r = await fetch(this.origin + url + '?' + q, {
      headers: { Accept: 'application/x-ndjson' }, cache: 'no-store', credentials: 'same-origin'
    });
    const body = await r.text();
    if (!r.ok) {
      const err = new Error(body.trim() || r.statusText || String(r.status));
      err.status = r.status;
      throw err;
    }
    const found = [];
    for (const line of body.split('\n')) {
      if (!line.trim()) continue;
      const m = JSON.parse(line);
      if (Array.isArray(m.lines) && m.start) found.push(m);
    }
    if (!found.length) throw new Error('the daemon sent no page');
    return found.sort((a, b) => offsetOf(a.start) - offsetOf(b.start));
  }
}
