package server

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/logtail/logtail/wire"
)

// mergedFiles writes three logs whose lines interleave in time, under dir.
func mergedFiles(td *testDaemon, dir string) (a, b, c string) {
	a = td.write(dir+"/a.log", "2026-11-23T10:00:01Z a one\n2026-11-23T10:00:04Z a four\n")
	b = td.write(dir+"/b.log", "2026-11-23T10:00:02Z b two\n2026-11-23T10:00:05Z b five\n")
	c = td.write(dir+"/c.log", "2026-11-23T10:00:03Z c three\n")
	return a, b, c
}

// mergedFirst is what mergedFiles' logs show first: merged by time.
var mergedFirst = []string{
	"2026-11-23T10:00:01Z a one", "2026-11-23T10:00:02Z b two", "2026-11-23T10:00:03Z c three",
	"2026-11-23T10:00:04Z a four", "2026-11-23T10:00:05Z b five",
}

// checkMerged checks a merged view of mergedFiles' logs: the last lines
// merged by time, each with its file's chip and colour, a toggle per file
// that hides its lines (also those that come later) and shows them again
// (by click and by key), lines that follow, and a reconnection that
// resumes every file where it stood, losing and repeating nothing.
func checkMerged(t *testing.T, td *testDaemon, ctx context.Context, a, b, c string) *testDaemon {
	t.Helper()
	until(t, ctx, "the last lines of the three files", `document.querySelectorAll('#log .line:not(.event)').length === 5`)
	equalLines(t, shownLines(t, ctx), mergedFirst)
	if got := strings.Join(eval[[]string](t, ctx, lineFilesJS), " "); got != "a.log b.log c.log a.log b.log" {
		t.Errorf("the lines' files: %s", got)
	}
	if got := eval[string](t, ctx, `Array.from(document.querySelectorAll('#legend button .name'), e => e.textContent).join(' ')`); got != "a.log b.log c.log" {
		t.Errorf("the legend: %q", got)
	}
	// each file its colour: the line's edge and the chip with its name
	type look struct{ Edge, Chip, Name string }
	looks := eval[[]look](t, ctx, `Array.from(document.querySelectorAll('#log .line:not(.event)'), e => ({
		Edge: getComputedStyle(e).borderLeftColor, Chip: getComputedStyle(e.querySelector('.gut'), '::after').color,
		Name: getComputedStyle(e.querySelector('.gut'), '::after').content}))`)
	if len(looks) == 5 {
		if looks[0].Edge == looks[1].Edge || looks[1].Edge == looks[2].Edge || looks[0].Edge == looks[2].Edge {
			t.Errorf("files share a colour: %+v", looks)
		}
		if looks[0] != looks[3] || looks[1] != looks[4] || looks[0].Chip != looks[0].Edge || looks[0].Name != `"a.log"` {
			t.Errorf("a file's lines look different: %+v", looks)
		}
	}
	until(t, ctx, "connected", `document.body.dataset.state === 'connected'`)

	// hide b: its lines, also those written later; a's still come
	do(t, ctx, chromedp.Click(chromedp.CSS(`#legend button[data-file="`+b+`"]`)))
	until(t, ctx, "b hidden", `document.querySelector('#legend button[data-file="`+b+`"]').getAttribute('aria-pressed') === 'false'`)
	td.write(filepath.Base(filepath.Dir(b))+"/b.log", "2026-11-23T10:00:06Z b six\n")
	until(t, ctx, "b's new line, hidden", lastLineJS+` === '2026-11-23T10:00:06Z b six' && document.querySelector('#log .line:last-child').offsetParent === null`)
	td.write(filepath.Base(filepath.Dir(a))+"/a.log", "2026-11-23T10:00:07Z a seven\n")
	until(t, ctx, "a's new line", lastLineJS+` === '2026-11-23T10:00:07Z a seven'`)
	equalLines(t, visibleLines(t, ctx), []string{mergedFirst[0], mergedFirst[2], mergedFirst[3], "2026-11-23T10:00:07Z a seven"})
	do(t, ctx, chromedp.KeyEvent("2")) // the second file: b again
	until(t, ctx, "b shown again", visibleLinesJS+`.length === 7`)

	// the daemon goes away; every file is written meanwhile
	td.shutdown()
	until(t, ctx, "reconnecting", `document.body.dataset.state === 'reconnecting'`)
	for _, p := range []string{a, b, c} {
		f := filepath.Base(p)
		td.write(filepath.Base(filepath.Dir(p))+"/"+f, "2026-11-23T10:01:00Z "+strings.TrimSuffix(f, ".log")+" while away\n")
	}
	td = restartWeb(t, td)
	until(t, ctx, "the lines written meanwhile", `document.querySelectorAll('#log .line:not(.event)').length === 10`)
	until(t, ctx, "connected", `document.body.dataset.state === 'connected'`)
	td.write(filepath.Base(filepath.Dir(c))+"/c.log", "2026-11-23T10:02:00Z c last\n")
	until(t, ctx, "a line after the reconnection", lastLineJS+` === '2026-11-23T10:02:00Z c last'`)
	got := shownLines(t, ctx)
	want := append(append([]string{}, mergedFirst...), "2026-11-23T10:00:06Z b six", "2026-11-23T10:00:07Z a seven")
	equalLines(t, got[:7], want)
	// the three lines written while away come in any order, once each
	away := append([]string{}, got[7:10]...)
	for _, w := range []string{"a", "b", "c"} {
		found := 0
		for _, l := range away {
			if l == "2026-11-23T10:01:00Z "+w+" while away" {
				found++
			}
		}
		if found != 1 {
			t.Errorf("%s's line written while away shown %d times: %q", w, found, away)
		}
	}
	if len(got) != 11 {
		t.Errorf("%d lines shown, want 11: %q", len(got), got)
	}
	return td
}

// TestViewerMerged: files chosen one by one, one stream each, merged.
func TestViewerMerged(t *testing.T) {
	td := startDaemon(t)
	td.mkdirs("app")
	a, b, c := mergedFiles(td, "app")
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(td.viewURL("", a, b, c)))
	checkMerged(t, td, tab, a, b, c)
	if n := eval[int](t, tab, `document.querySelectorAll('#log .line.event').length`); n != 0 {
		t.Errorf("%d event lines: %q", n, eval[[]string](t, tab, `Array.from(document.querySelectorAll('#log .line.event'), e => e.textContent)`))
	}
}

// TestViewerMergedPattern: a pattern, which the daemon streams as one
// stream of many files whose messages name their file; the page resumes it
// with a cursor, and a file that comes to match joins with a colour of its
// own.
func TestViewerMergedPattern(t *testing.T) {
	td := startDaemon(t)
	dir := td.mkdirs("logs")
	a, b, c := mergedFiles(td, "logs")
	td.write("logs/notes.txt", "not a log\n")
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(td.page(dir+"/*.log", "")))
	td = checkMerged(t, td, tab, a, b, c)
	if eval[bool](t, tab, `document.getElementById('download').offsetParent !== null`) {
		t.Error("a pattern's page offers a download")
	}
	td.write("logs/d.log", "2026-11-23T10:03:00Z d joins\n")
	until(t, tab, "the file that came to match", lastLineJS+` === '2026-11-23T10:03:00Z d joins'`)
	until(t, tab, "its button", `document.querySelectorAll('#legend button').length === 4`)
	if got := eval[string](t, tab, `document.querySelector('#log .line:last-child').className`); !strings.Contains(got, "fc3") {
		t.Errorf("the new file's line: class %q, want its own colour fc3", got)
	}
}

// TestViewerCursorMatchesWire: the page's cursor (from=CURSOR) is the text
// wire.Cursor writes, byte for byte, whatever the file names: keys sorted
// by their UTF-8 bytes (not JavaScript's UTF-16 order), <, > and & escaped
// as Go's encoding/json escapes them.
func TestViewerCursorMatchesWire(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "x\n")
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(td.page(p, "")))
	until(t, tab, "the page", lastLineJS+` === 'x'`)
	pos := "2049:131:b1795428000000000000.1795428000000000000.9f3e8c7b2a4d1e60:4096"
	for _, names := range [][]string{
		{},
		{"/var/log/app.log"},
		{"/var/log/b.log", "/var/log/a.log", "/var/log/a.log.1"},
		{"/var/log/\uff5e.log", "/var/log/\U0001F600.log", "/var/log/\u00e9.log", "/var/log/z.log"},
		{"/var/log/<b>&amp;\u2028.log", "/var/log/\"quoted\" \\ name.log", "/var/log/tab\there.log"},
	} {
		t.Run(fmt.Sprint(len(names)), func(t *testing.T) {
			var cur wire.Cursor
			pairs := make([][2]string, 0, len(names))
			for i, n := range names {
				p := pos + fmt.Sprint(i)
				cur.Set(n, p)
				pairs = append(pairs, [2]string{n, p})
			}
			got := evalAwait[string](t, tab, fmt.Sprintf(`import('/_logtail/stream.js').then(m => m.cursorString(new Map(%s)))`, jsJSON(t, pairs)))
			if want := cur.String(); got != want {
				t.Errorf("the page's cursor\n%s\nwire's\n%s", got, want)
			}
			if _, err := wire.ParseCursor(got); err != nil {
				t.Error(err)
			}
		})
	}
}

// jsJSON is v as a JavaScript literal.
func jsJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
