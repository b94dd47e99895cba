// What a log line says beyond its text: its level, its time, and for a JSON
// record (slog, zap, logrus, bunyan, pino…) its fields, shown as time,
// level, message, then key=value. Used by the viewer's pages and the
// <logtail-log> element; imports nothing.
//
// Everything here builds DOM nodes with textContent: the only HTML inserted
// anywhere is the line the daemon rendered and escaped.

// LEVELS, from the least to the most severe.
export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

const levelNames = {
  trace: 'trace', finest: 'trace', finer: 'trace',
  debug: 'debug', dbg: 'debug', fine: 'debug', verbose: 'debug',
  info: 'info', information: 'info', informational: 'info', notice: 'info',
  warn: 'warn', warning: 'warn',
  error: 'error', err: 'error', eror: 'error',
  fatal: 'fatal', panic: 'fatal', dpanic: 'fatal', crit: 'fatal', critical: 'fatal',
  alert: 'fatal', emerg: 'fatal', emergency: 'fatal', severe: 'fatal'
};

// levelOf is a level as one of LEVELS, or '': a name in any case (slog's
// "WARN+2" too), or a number as bunyan and pino write them (10 trace, 20
// debug, 30 info, 40 warn, 50 error, 60 fatal).
export function levelOf(v) {
  if (typeof v === 'number') {
    if (!isFinite(v)) return '';
    return v <= 10 ? 'trace' : v <= 20 ? 'debug' : v <= 30 ? 'info' : v <= 40 ? 'warn' : v <= 50 ? 'error' : 'fatal';
  }
  if (typeof v !== 'string') return '';
  const name = v.trim().toLowerCase().replace(/[+-]\d+$/, '');
  return levelNames[name] || '';
}

const timeKeys = ['time', 'ts', 'timestamp', '@timestamp', 'datetime'];
const levelKeys = ['level', 'lvl', 'severity', 'loglevel', 'log.level'];
const msgKeys = ['msg', 'message', 'event'];

function firstKey(obj, keys) {
  for (const k of keys) {
    if (Object.prototype.hasOwnProperty.call(obj, k)) return k;
  }
  return '';
}

// epochMillis reads a number of seconds (zap's ts), milliseconds (pino) or
// nanoseconds since the epoch.
function epochMillis(n) {
  if (n > 1e17) return n / 1e6;
  if (n > 1e11) return n;
  return n * 1000;
}

function isoUTC(ms) {
  const d = new Date(ms);
  return isNaN(d.getTime()) ? '' : d.toISOString();
}

// parseRecord reads a line that is a JSON object with a message and a level
// or a time; null for any other line. It returns {time (ms or NaN),
// timeText, level, levelText, msg, fields ([key, value] in the order
// written, without the time, level and message)}.
export function parseRecord(text) {
  const t = text.trim();
  if (t.length < 2 || t[0] !== '{' || t[t.length - 1] !== '}') return null;
  let obj;
  try {
    obj = JSON.parse(t);
  } catch (e) {
    return null;
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return null;
  const tk = firstKey(obj, timeKeys), lk = firstKey(obj, levelKeys), mk = firstKey(obj, msgKeys);
  if (!mk || (!tk && !lk)) return null;
  const rec = { time: NaN, timeText: '', level: '', levelText: '', msg: '', fields: [] };
  if (tk) {
    const v = obj[tk];
    if (typeof v === 'number') {
      rec.time = epochMillis(v);
      rec.timeText = isoUTC(rec.time);
    } else if (typeof v === 'string') {
      rec.time = Date.parse(v);
      rec.timeText = v;
    } else {
      rec.timeText = JSON.stringify(v);
    }
  }
  if (lk) {
    const v = obj[lk];
    rec.level = levelOf(v);
    rec.levelText = (typeof v === 'string' ? v : rec.level || String(v)).toUpperCase();
  }
  const m = obj[mk];
  rec.msg = typeof m === 'string' ? m : JSON.stringify(m);
  for (const k of Object.keys(obj)) {
    if (k !== tk && k !== lk && k !== mk) rec.fields.push([k, obj[k]]);
  }
  return rec;
}

// fieldValue is a value as key=value shows it: a plain string as it is,
// quoted when it holds spaces, quotes or '=' (or nothing); anything else
// as JSON.
export function fieldValue(v) {
  if (typeof v === 'string') return v === '' || /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

function span(cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}

// recordNodes are a record's nodes: time, level, message, then key=value.
export function recordNodes(rec) {
  const out = [];
  const sep = () => document.createTextNode(' ');
  if (rec.timeText) out.push(span('j-time', rec.timeText), sep());
  if (rec.levelText) out.push(span('j-lv', rec.levelText), sep());
  out.push(span('j-msg', rec.msg));
  for (const [k, v] of rec.fields) {
    const f = document.createElement('span');
    f.className = 'j-f';
    f.append(span('j-k', k), span('j-eq', '='), span('j-v', fieldValue(v)));
    out.push(sep(), f);
  }
  return out;
}

// plainLevel finds a level written near the start of a line of text: a
// word such as ERROR or [warn], or level=warn as logfmt writes it.
const plainLevelRE = /(?:^|[\s[(|:])(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|PANIC|CRIT|CRITICAL)(?=$|[\s\]):|,])/;
const logfmtLevelRE = /(?:^|\s)(?:level|lvl|severity)=["']?([A-Za-z]+)/;
export function plainLevel(text) {
  const head = text.slice(0, 160);
  let m = logfmtLevelRE.exec(head);
  if (m) return levelOf(m[1]);
  m = plainLevelRE.exec(head);
  return m ? levelOf(m[1]) : '';
}

// leadingTime reads a timestamp at the start of a line of text
// (2026-11-23T10:01:00Z, 2026-11-23 10:01:00.123+01:00, [2026-…]), in ms;
// NaN when there is none. A time without a zone is taken as UTC.
const leadingTimeRE = /^\[?(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?/;
export function leadingTime(text) {
  const m = leadingTimeRE.exec(text);
  if (!m) return NaN;
  const frac = m[3] ? '.' + m[3].slice(0, 3).padEnd(3, '0') : '';
  let zone = m[4] || 'Z';
  if (/^[+-]\d{4}$/.test(zone)) zone = zone.slice(0, 3) + ':' + zone.slice(3);
  return Date.parse(m[1] + 'T' + m[2] + frac + zone);
}

// describe reads what a line's text says: {rec (a JSON record, or null),
// level, time (ms or NaN)}.
export function describe(text) {
  const rec = parseRecord(text);
  if (rec) return { rec, level: rec.level, time: rec.time };
  return { rec: null, level: plainLevel(text), time: leadingTime(text) };
}

// mergeByTime merges runs of items (one array per file, each in its own
// order) into one array ordered by time, never reordering a file's own
// items. time(item) is ms or NaN; an item without a time takes the time of
// the item before it in its run (of the first item with one, for those
// at the start), and a run without any time goes first.
export function mergeByTime(runs, time) {
  const keyed = runs.map((run) => {
    const ts = run.map(time);
    let last = NaN;
    for (let i = 0; i < ts.length; i++) {
      if (isNaN(ts[i])) ts[i] = last; else last = ts[i];
    }
    let next = -Infinity;
    for (let i = ts.length - 1; i >= 0; i--) {
      if (isNaN(ts[i])) ts[i] = next; else next = ts[i];
    }
    return { run, ts, i: 0 };
  });
  const out = [];
  for (;;) {
    let best = null;
    for (const k of keyed) {
      if (k.i < k.run.length && (best === null || k.ts[k.i] < best.ts[best.i])) best = k;
    }
    if (!best) return out;
    out.push(best.run[best.i++]);
  }
}
