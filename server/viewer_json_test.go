package server

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestViewerJSON: lines that are JSON records (slog, zap, logrus, bunyan)
// show their time, level (coloured) and message first, then their other
// fields as key=value; raw shows them as written; the level filter hides
// the lines below a level (and keeps the lines without one). Nothing of a
// record becomes markup.
func TestViewerJSON(t *testing.T) {
	td := startDaemon(t)
	zapTS := time.Unix(1795428001, 500_000_000).UTC().Format("2006-01-02T15:04:05.000Z")
	records := []struct{ line, shown, level string }{
		{`{"time":"2026-11-23T10:00:00.123Z","level":"INFO","msg":"server started","addr":":8080"}`, // slog
			`2026-11-23T10:00:00.123Z INFO server started addr=:8080`, "info"},
		{`{"level":"warn","ts":1795428001.5,"caller":"app/main.go:42","msg":"slow request","path":"/api/items","took":0.734}`, // zap
			zapTS + ` WARN slow request caller=app/main.go:42 path=/api/items took=0.734`, "warn"},
		{`{"level":"error","msg":"payment failed","time":"2026-11-23T10:00:02+01:00","order":1234,"err":"card declined"}`, // logrus
			`2026-11-23T10:00:02+01:00 ERROR payment failed order=1234 err="card declined"`, "error"},
		{`{"name":"api","hostname":"web-1","pid":42,"level":50,"msg":"db down","time":"2026-11-23T10:00:03.000Z","v":0}`, // bunyan
			`2026-11-23T10:00:03.000Z ERROR db down name=api hostname=web-1 pid=42 v=0`, "error"},
		{`{"time":"2026-11-23T10:00:04Z","level":"DEBUG","msg":"cache hit","key":"user:1","tags":["a","b"]}`,
			`2026-11-23T10:00:04Z DEBUG cache hit key=user:1 tags=["a","b"]`, "debug"},
		{`plain text line`, `plain text line`, ""},
		{`{"time":"2026-11-23T10:00:05Z","level":"error","msg":"<img src=x onerror=window.__pwned=1>","html":"<b>x</b>"}`,
			`2026-11-23T10:00:05Z ERROR <img src=x onerror=window.__pwned=1> html=<b>x</b>`, "error"},
		{`{"not":"a log record"}`, `{"not":"a log record"}`, ""},
	}
	var file strings.Builder
	var raw, shown []string
	for _, r := range records {
		file.WriteString(r.line + "\n")
		raw = append(raw, r.line)
		shown = append(shown, r.shown)
	}
	p := td.write("json.log", file.String())
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(td.page(p, "")))
	until(t, tab, "the lines", `document.querySelectorAll('#log .line').length === 8`)
	equalLines(t, shownLines(t, tab), shown)

	type parts struct{ Time, Level, Msg, Fields, Class, LevelColor string }
	got := eval[[]parts](t, tab, `Array.from(document.querySelectorAll('#log .line'), e => {
		const q = (s) => e.querySelector(s) ? e.querySelector(s).textContent : '';
		return {Time: q('.j-time'), Level: q('.j-lv'), Msg: q('.j-msg'),
			Fields: Array.from(e.querySelectorAll('.j-f'), f => f.textContent).join(' '), Class: e.className,
			LevelColor: e.querySelector('.j-lv') ? getComputedStyle(e.querySelector('.j-lv')).color : ''};
	})`)
	if got[0].Time != "2026-11-23T10:00:00.123Z" || got[0].Level != "INFO" || got[0].Msg != "server started" || got[0].Fields != "addr=:8080" {
		t.Errorf("slog's record: %+v", got[0])
	}
	if got[3].Level != "ERROR" || got[3].Msg != "db down" {
		t.Errorf("bunyan's level 50: %+v", got[3])
	}
	for i, r := range records {
		if want := "lv-" + r.level; r.level != "" && !strings.Contains(got[i].Class, want) {
			t.Errorf("line %d: class %q, want %s", i, got[i].Class, want)
		}
	}
	if got[0].LevelColor == got[2].LevelColor || got[1].LevelColor == got[2].LevelColor || got[0].LevelColor == got[1].LevelColor {
		t.Errorf("info, warn and error look alike: %q %q %q", got[0].LevelColor, got[1].LevelColor, got[2].LevelColor)
	}
	if n := eval[int](t, tab, `document.querySelectorAll('#log img, #log b, #log script').length`); n != 0 {
		t.Errorf("%d elements made from a record", n)
	}
	if v := eval[string](t, tab, `typeof window.__pwned`); v != "undefined" {
		t.Errorf("window.__pwned is %s", v)
	}

	// raw: as written; and back (the key r too)
	do(t, tab, chromedp.Click(chromedp.ID("raw")))
	until(t, tab, "the raw lines", `document.querySelectorAll('#log .j-msg').length === 0`)
	equalLines(t, shownLines(t, tab), raw)
	do(t, tab, chromedp.KeyEvent("r"))
	until(t, tab, "the records again", `document.querySelectorAll('#log .j-msg').length === 6`)
	equalLines(t, shownLines(t, tab), shown)

	// the level filter: ≥ warn, then ≥ error; lines without a level stay
	do(t, tab, chromedp.SetValue(chromedp.ID("level"), "warn"), chromedp.Evaluate[chromedp.Void](`document.getElementById('level').dispatchEvent(new Event('change'))`))
	until(t, tab, "warn and above", visibleLinesJS+`.length === 6`)
	equalLines(t, visibleLines(t, tab), []string{shown[1], shown[2], shown[3], shown[5], shown[6], shown[7]})
	do(t, tab, chromedp.KeyEvent("l")) // the next level: error
	until(t, tab, "error and above", visibleLinesJS+`.length === 5`)
	equalLines(t, visibleLines(t, tab), []string{shown[2], shown[3], shown[5], shown[6], shown[7]})
	// a new record below the level comes hidden; one above it shows
	td.write("json.log", `{"time":"2026-11-23T10:00:06Z","level":"INFO","msg":"quiet"}`+"\n"+`{"time":"2026-11-23T10:00:07Z","level":"ERROR","msg":"loud"}`+"\n")
	until(t, tab, "the new error", visibleLinesJS+`.length === 6`)
	if got := visibleLines(t, tab); got[5] != "2026-11-23T10:00:07Z ERROR loud" {
		t.Errorf("the last line shown: %q", got[5])
	}
}
