// Lines per second, counted from the lines written after the page opened
// (the stream's followed lines, never the last lines read first), kept as
// buckets over the last few minutes and drawn as a small SVG chart.

export class Rate {
  // bucketMs: the width of one bucket; buckets: how many are kept.
  constructor(bucketMs = 2000, buckets = 150, now = Date.now()) {
    this.bucketMs = bucketMs;
    this.counts = new Array(buckets).fill(0);
    this.since = now;              // when counting started
    this.head = Math.floor(now / bucketMs); // the bucket of counts[counts.length-1]
    this.recent = [];              // [time, n] of the last few seconds
    this.total = 0;
  }

  advance(now) {
    const b = Math.floor(now / this.bucketMs);
    const shift = Math.min(b - this.head, this.counts.length);
    for (let i = 0; i < shift; i++) {
      this.counts.shift();
      this.counts.push(0);
    }
    if (b > this.head) this.head = b;
  }

  add(n, now = Date.now()) {
    if (!(n > 0)) return;
    this.advance(now);
    this.counts[this.counts.length - 1] += n;
    this.recent.push([now, n]);
    this.total += n;
  }

  // perSecond is the rate over the last windowMs (or since counting began,
  // if later; at least a second).
  perSecond(now = Date.now(), windowMs = 5000) {
    while (this.recent.length && this.recent[0][0] <= now - windowMs) this.recent.shift();
    let n = 0;
    for (const [, k] of this.recent) n += k;
    const secs = Math.max(1, Math.min(windowMs, now - this.since) / 1000);
    return n / secs;
  }

  // series is lines/s in each bucket, the oldest first; the buckets before
  // counting began are null.
  series(now = Date.now()) {
    this.advance(now);
    const first = Math.floor(this.since / this.bucketMs);
    const out = [];
    for (let i = 0; i < this.counts.length; i++) {
      const b = this.head - (this.counts.length - 1 - i);
      if (b < first) {
        out.push(null);
        continue;
      }
      // the current bucket is not over: divide by the time it has run
      const start = Math.max(b * this.bucketMs, this.since);
      const end = Math.min((b + 1) * this.bucketMs, now);
      out.push(this.counts[i] / Math.max(0.5, (end - start) / 1000));
    }
    return out;
  }
}

// formatRate is a rate for people: 0, 0.4, 12, 1.2k.
export function formatRate(r) {
  if (r >= 1000) return (r / 1000).toFixed(r >= 10000 ? 0 : 1) + 'k';
  if (r >= 10 || r === 0) return String(Math.round(r));
  return r.toFixed(1);
}

// drawChart draws series (as Rate.series) into svg, whose viewBox is
// 0 0 W H and which holds a path.area and a path.stroke: a step for each
// bucket, from the page's opening on. The scale is the series' peak (at
// least 1 line/s), said in the title with the span shown.
export function drawChart(svg, series, label, bucketMs = 2000, minBuckets = 15) {
  // the span since the page opened, at least minBuckets, fills the width
  let from = 0;
  while (from < series.length - minBuckets && series[from] === null) from++;
  series = series.slice(from);
  const vb = svg.viewBox.baseVal;
  const w = vb && vb.width ? vb.width : 150, h = vb && vb.height ? vb.height : 24;
  let peak = 1;
  for (const v of series) if (v !== null && v > peak) peak = v;
  const step = w / series.length;
  let line = '', area = '', first = -1;
  for (let i = 0; i < series.length; i++) {
    if (series[i] === null) continue;
    const x0 = (i * step).toFixed(1), x1 = ((i + 1) * step).toFixed(1);
    const y = (h - 1 - (series[i] / peak) * (h - 2)).toFixed(1);
    line += (first < 0 ? 'M' + x0 + ' ' + y : 'L' + x0 + ' ' + y) + 'L' + x1 + ' ' + y;
    if (first < 0) first = i;
  }
  if (first >= 0) area = line + 'L' + w.toFixed(1) + ' ' + h + 'L' + (first * step).toFixed(1) + ' ' + h + 'Z';
  const stroke = svg.querySelector('.stroke'), fill = svg.querySelector('.area');
  if (stroke) stroke.setAttribute('d', line);
  if (fill) fill.setAttribute('d', area);
  let title = svg.querySelector('title');
  if (!title) {
    title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    svg.prepend(title);
  }
  const secs = Math.round(series.length * bucketMs / 1000);
  title.textContent = (label ? label + ': ' : '') + 'lines/s written since the page opened, over the last ' +
    (secs >= 120 ? Math.round(secs / 60) + ' minutes' : secs + ' s') + '; peak ' + formatRate(peak) + '/s';
}
