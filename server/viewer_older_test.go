package server

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestViewerOlder: scrolling to the top loads the lines before the first
// one shown (before=POS), a page at a time, until the start of the file;
// the view stays on the line the reader was at.
func TestViewerOlder(t *testing.T) {
	td := startDaemon(t)
	p := td.write("older.log", lines("o", 1, 300))
	if !beforeServed(t, td, p) {
		t.Skip("the daemon answers before= with 501: paging back waits for server/before.go")
	}
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(td.page(p, "lines=50&page=100")))
	until(t, tab, "the last 50 lines", lastLineJS+` === 'o 300' && document.querySelectorAll('#log .line').length === 50`)
	until(t, tab, "connected", `document.body.dataset.state === 'connected'`)
	if got := eval[string](t, tab, `document.getElementById('older').dataset.state`); got != "idle" {
		t.Errorf("before scrolling, older lines are %q, want idle", got)
	}

	// one page: the line that was first stays where the reader saw it, at
	// the top of the log
	do(t, tab, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	until(t, tab, "a page of older lines", `document.querySelectorAll('#log .line').length === 150`)
	top := eval[float64](t, tab, `document.getElementById('log').offsetTop`)
	first := eval[float64](t, tab, `Array.from(document.querySelectorAll('#log .line')).find(e => e.textContent === 'o 251').getBoundingClientRect().top`)
	if first < top-30 || first > top+30 {
		t.Errorf("the line that was first is at %.0f px, want about %.0f", first, top)
	}

	scrollUpUntil(t, tab, "the start of the file", `document.getElementById('older').dataset.state === 'start'`)
	got := eval[[]string](t, tab, `Array.from(document.querySelectorAll('#log .line'), e => e.textContent)`)
	want := append([]string{"— start of " + p + " —"}, splitLines(lines("o", 1, 300))...)
	equalLines(t, got, want)

	// and it still follows
	td.write("older.log", "o 301\n")
	until(t, tab, "a new line", lastLineJS+` === 'o 301'`)
	if n := eval[int](t, tab, `document.querySelectorAll('#log .line:not(.event)').length`); n != 301 {
		t.Errorf("%d lines, want 301", n)
	}
}

// TestViewerOlderRotated: the lines shown before a rotation are in the file
// renamed away; their positions name it, so paging back reads it.
func TestViewerOlderRotated(t *testing.T) {
	td := startDaemon(t)
	p := td.write("rot.log", lines("g", 1, 200))
	if !beforeServed(t, td, p) {
		t.Skip("the daemon answers before= with 501: paging back waits for server/before.go")
	}
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(td.page(p, "lines=60&page=80")))
	until(t, tab, "the last lines", lastLineJS+` === 'g 200'`)
	until(t, tab, "connected", `document.body.dataset.state === 'connected'`)
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	td.write("rot.log", lines("n", 1, 5))
	until(t, tab, "the new file's lines", lastLineJS+` === 'n 5'`)
	scrollUpUntil(t, tab, "the start of the renamed file", `document.getElementById('older').dataset.state === 'start'`)
	got := eval[[]string](t, tab, `Array.from(document.querySelectorAll('#log .line'), e => e.textContent)`)
	want := append([]string{"— start of " + p + " —"}, splitLines(lines("g", 1, 200))...)
	want = append(append(want, "— file rotated —"), splitLines(lines("n", 1, 5))...)
	equalLines(t, got, want)
}

// TestViewerOlderRefused: a file shown from its start needs no paging at
// all; when the daemon refuses the page before (the file was truncated
// since: 404), the bar above the first line says so instead of loading
// forever.
func TestViewerOlderRefused(t *testing.T) {
	td := startDaemon(t)
	short := td.write("short.log", lines("s", 1, 5))
	long := td.write("long.log", lines("l", 1, 100))
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(td.page(short, "lines=10")))
	until(t, tab, "the whole file", lastLineJS+` === 's 5' && document.body.dataset.state === 'connected'`)
	if got := eval[string](t, tab, `document.getElementById('older').textContent`); got != "start of the file" {
		t.Errorf("above a whole file: %q", got)
	}
	do(t, tab, chromedp.Navigate(td.page(long, "lines=10")))
	until(t, tab, "the last lines", lastLineJS+` === 'l 100' && document.body.dataset.state === 'connected'`)
	if err := os.Truncate(long, 0); err != nil {
		t.Fatal(err)
	}
	td.write("long.log", "after the cut\n")
	until(t, tab, "the line after the cut", lastLineJS+` === 'after the cut'`)
	// eleven lines: nothing to scroll; the bar above them loads older lines
	do(t, tab, chromedp.Click(chromedp.ID("older")))
	until(t, tab, "the refusal", `document.getElementById('older').dataset.state === 'unavailable'`)
	if got := eval[string](t, tab, `document.getElementById('older').textContent`); got != "older lines: long.log is gone" {
		t.Errorf("above the first line: %q", got)
	}
}

// TestViewerOlderBigPage: a page over about 1 MiB comes as several
// messages; the page shows them in order, nothing lost or repeated.
func TestViewerOlderBigPage(t *testing.T) {
	td := startDaemon(t)
	var b strings.Builder
	for i := 1; i <= 8000; i++ {
		fmt.Fprintf(&b, "big %05d %s\n", i, strings.Repeat("x", 240))
	}
	p := td.write("big.log", b.String())
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(td.page(p, "lines=100&page=5000")))
	until(t, tab, "the last lines", `document.querySelectorAll('#log .line').length === 100 && document.body.dataset.state === 'connected'`)
	scrollUpUntil(t, tab, "a page of 5,000 older lines (1.2 MiB)", `document.querySelectorAll('#log .line').length === 5100`)
	got := shownLines(t, tab)
	for i, l := range got {
		if want := fmt.Sprintf("big %05d ", 8000-5100+1+i); !strings.HasPrefix(l, want) {
			t.Fatalf("line %d is %.20q, want %q…", i, l, want)
		}
	}
}

// TestViewerOlderMerged: in a view of several files, scrolling up loads the
// older lines of each, merged by time, until the start of all of them.
func TestViewerOlderMerged(t *testing.T) {
	td := startDaemon(t)
	var a, b strings.Builder
	var want []string
	for i := range 120 {
		l := fmt.Sprintf("2026-11-23T10:%02d:%02dZ %s %d", i/30, (i%30)*2, "ab"[i%2:i%2+1], i)
		want = append(want, l)
		if i%2 == 0 {
			a.WriteString(l + "\n")
		} else {
			b.WriteString(l + "\n")
		}
	}
	pa, pb := td.write("a.log", a.String()), td.write("b.log", b.String())
	if !beforeServed(t, td, pa) {
		t.Skip("the daemon answers before= with 501: paging back waits for server/before.go")
	}
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(td.viewURL("lines=25&page=20", pa, pb)))
	until(t, tab, "the last lines", `document.querySelectorAll('#log .line').length === 50`)
	equalLines(t, shownLines(t, tab), want[70:])
	scrollUpUntil(t, tab, "the start of both files", `document.getElementById('older').dataset.state === 'start'`)
	if got := eval[string](t, tab, `document.getElementById('older').textContent`); got != "start of the files" {
		t.Errorf("above the lines: %q", got)
	}
	equalLines(t, shownLines(t, tab), want)
	if n := eval[int](t, tab, `document.querySelectorAll('#log .line.event.start').length`); n != 2 {
		t.Errorf("%d start markers, want one per file", n)
	}
}
