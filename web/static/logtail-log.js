// <logtail-log>: a live log in any page, in one line of HTML.
//
//   <script type="module" src="https://logs.example/_logtail/logtail-log.js"></script>
//   <logtail-log src="/var/log/app/app.log" lines="200" grep="ERROR"></logtail-log>
//
// The element opens the stream on the daemon that served this script (its
// own origin; or src may be a whole URL), as format=json&html=1 over
// WebSocket: the last lines first, then every new one, coloured as the
// daemon rendered them, JSON records as time, level, message and fields.
// A dropped connection resumes from the last position (from=POS, or
// from=CURSOR for a pattern or a directory), so nothing is lost or repeated.
//
// Attributes: src (a path on the daemon: a file, a directory or a pattern;
// required), lines (the last lines to show first, default 100), grep and
// exclude (the daemon's filters, RE2), cap (lines kept, default 1000), theme
// (auto, dark or light), token (the daemon's --token; without it the
// content of <meta name="logtail-token">, or the script URL's ?token=).
//
// Its styles live in its shadow root: the page's styles do not reach its
// lines and its own do not leak out. The page may size it (logtail-log {
// height: 30em }) and style its parts: ::part(bar), ::part(log).
//
// The daemon refuses a WebSocket from a page whose origin it does not allow
// (--allow-origin), and a browser does not tell the page why. The element
// then asks the daemon (/_logtail/origin) and says so in its bar, with the
// flag that would allow it; its data-state is then "refused".

const here = new URL(import.meta.url);
const daemon = here.origin;
// The script's own query (?v=, and ?token= for a daemon that asks its
// token for its scripts) goes to what it loads.
const asset = (name) => new URL(name + here.search, here).href;

const [{ Source, pathURL }, { describe, recordNodes }] = await Promise.all([
  import(asset('stream.js')), import(asset('lines.js'))
]);

const states = ['connecting', 'connected', 'reconnecting', 'refused', 'paused'];

class LogtailLog extends HTMLElement {
  static get observedAttributes() {
    return ['src', 'lines', 'grep', 'exclude', 'token', 'theme', 'cap'];
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = asset('logtail-log.css');
    this.box = document.createElement('div');
    this.box.className = 'box term-container';
    this.box.setAttribute('part', 'box');
    this.bar = document.createElement('div');
    this.bar.className = 'bar';
    this.bar.setAttribute('part', 'bar');
    this.dot = document.createElement('span');
    this.dot.className = 'dot';
    this.name = document.createElement('span');
    this.name.className = 'name';
    this.message = document.createElement('span');
    this.message.className = 'message';
    this.message.setAttribute('role', 'status');
    this.bar.append(this.dot, this.name, this.message);
    this.log = document.createElement('div');
    this.log.className = 'log';
    this.log.setAttribute('part', 'log');
    this.box.append(this.bar, this.log);
    root.append(css, this.box);
    this.source = null;
    this.files = new Map();
    this.stick = true;
    this.log.addEventListener('scroll', () => {
      const l = this.log;
      this.stick = l.scrollHeight - l.scrollTop - l.clientHeight < 8;
    }, { passive: true });
  }

  connectedCallback() {
    this.start();
  }

  disconnectedCallback() {
    this.stop();
  }

  attributeChangedCallback() {
    if (this.source) {
      this.stop();
      this.start();
    }
  }

  get token() {
    const meta = document.querySelector('meta[name="logtail-token"]');
    return this.getAttribute('token') || (meta && meta.content) || here.searchParams.get('token') || '';
  }

  start() {
    if (!this.isConnected) return;
    const src = this.getAttribute('src') || '';
    const theme = this.getAttribute('theme');
    this.box.classList.toggle('theme-dark', theme === 'dark');
    this.box.classList.toggle('theme-light', theme === 'light');
    this.cap = Math.max(10, parseInt(this.getAttribute('cap'), 10) || 1000);
    this.log.replaceChildren();
    this.files.clear();
    if (!src) {
      this.show('refused', 'no src: give the path of a log, e.g. src="/var/log/app/app.log"');
      return;
    }
    let origin = daemon, path = src, url;
    if (/^(https?|wss?):\/\//.test(src)) { // a whole URL: that daemon
      const u = new URL(src);
      origin = u.origin.replace(/^ws/, 'http');
      url = u.pathname;
      path = decodeURIComponent(u.pathname);
    }
    this.name.textContent = path;
    this.name.title = origin + path;
    const lines = parseInt(this.getAttribute('lines'), 10);
    this.source = new Source({
      origin, path, url: url || pathURL(path), token: this.token,
      lines: lines >= 0 ? lines : 100,
      grep: this.getAttribute('grep') || '', exclude: this.getAttribute('exclude') || '',
      maxBackoff: 30000,
      onMessage: (s, m) => this.receive(s, m),
      onState: (s) => this.show(s.state, s.reason),
      diagnose: () => this.diagnose(origin)
    });
    this.show('connecting', '');
    this.source.start();
  }

  stop() {
    if (this.source) this.source.stop();
    this.source = null;
  }

  // diagnose finds out why the handshake failed: the origin probe says
  // whether this page's origin is allowed; a daemon that answers /healthz
  // but not the probe wants its token.
  async diagnose(origin) {
    const t = this.token;
    try {
      const r = await fetch(origin + '/_logtail/origin' + (t ? '?token=' + encodeURIComponent(t) : ''), { cache: 'no-store', credentials: 'omit' });
      const o = await r.json();
      if (!o.allowed) {
        return 'refused: logtaild does not allow pages of ' + o.origin + ' (start it with --allow-origin ' + o.origin + ')';
      }
      return 'refused: logtaild does not serve ' + this.source.path + ' to this page (is the path under its roots, and the token right?)';
    } catch (e) {
      try {
        await fetch(origin + '/healthz', { mode: 'no-cors', cache: 'no-store', credentials: 'omit' });
      } catch (e2) {
        return ''; // unreachable: retried, and said as reconnecting
      }
      return 'refused: logtaild wants its token (the token attribute, or <meta name="logtail-token">)';
    }
  }

  show(state, reason) {
    this.dataset.state = states.indexOf(state) >= 0 ? state : 'connecting';
    this.dot.dataset.state = this.dataset.state;
    this.message.textContent = reason || (state === 'connected' ? 'live' : state + '…');
    this.message.classList.toggle('refused', state === 'refused');
  }

  receive(s, m) {
    const many = s.many;
    const name = many ? (m.file || s.path) : s.path;
    let idx = this.files.get(name);
    if (idx === undefined) {
      idx = this.files.size;
      this.files.set(name, idx);
    }
    this.log.classList.toggle('many', many);
    const frag = document.createDocumentFragment();
    if (m.event) {
      const el = document.createElement('div');
      const gap = m.event === 'gap';
      el.className = 'line event' + (gap ? ' gap' : '');
      el.textContent = (gap ? '⚠ lines lost: ' : '— ' + m.event + ': ') + (m.reason || m.file || '') + (gap ? '' : ' —');
      frag.appendChild(this.decorate(el, name, idx));
    } else if (m.lines) {
      for (const html of m.lines) {
        const el = document.createElement('div');
        el.className = 'line';
        el.innerHTML = html; // the daemon's escaped HTML: only <span class="term-…">
        const d = describe(el.textContent);
        if (d.rec) {
          el.classList.add('json');
          el.replaceChildren(...recordNodes(d.rec));
        }
        if (d.level) el.classList.add('lv-' + d.level);
        frag.appendChild(this.decorate(el, name, idx));
      }
    }
    this.log.appendChild(frag);
    const excess = this.log.childElementCount - this.cap;
    for (let i = 0; i < excess; i++) this.log.firstElementChild.remove();
    if (this.stick) this.log.scrollTop = this.log.scrollHeight;
  }

  decorate(el, name, idx) {
    el.classList.add('fc' + (idx % 8));
    const g = document.createElement('span');
    g.className = 'gut';
    g.dataset.f = name.slice(name.lastIndexOf('/') + 1);
    el.prepend(g);
    return el;
  }
}

if (!customElements.get('logtail-log')) customElements.define('logtail-log', LogtailLog);
