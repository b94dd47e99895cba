package server

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestViewerIndex: the index in a browser searches, sorts by name, size or
// time, refreshes sizes and times by itself keeping the search, the sort and
// the selection, and opens the files selected merged in one view, or a
// pattern as one stream.
func TestViewerIndex(t *testing.T) {
	td := startDaemon(t)
	td.mkdirs("app")
	td.mkdirs("other")
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	files := []struct {
		name, content string
		mtime         time.Time
	}{
		{"app/api.log", strings.Repeat("2026-11-23T10:00:01Z api request served\n", 30), base.Add(1 * time.Hour)},
		{"app/worker.log", "2026-11-23T10:00:02Z worker job done\n", base.Add(3 * time.Hour)},
		{"app/db.log", strings.Repeat("2026-11-23T10:00:03Z db query\n", 10), base.Add(2 * time.Hour)},
		{"other/notes.txt", strings.Repeat("n", 5000) + "\n", base},
	}
	for _, f := range files {
		setMTime(t, td.write(f.name, f.content), f.mtime)
	}
	app := filepath.Join(td.root, "app")
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(td.page("/", "")))
	until(t, tab, "the listing read as JSON", `document.body.dataset.refreshes >= 1`)

	names := func() []string {
		return eval[[]string](t, tab, `Array.from(document.querySelectorAll('#files tbody tr'), r => r.dataset.name)`)
	}
	rel := func(ns []string) string {
		for i, n := range ns {
			ns[i] = strings.TrimPrefix(n, td.root+"/")
		}
		return strings.Join(ns, " ")
	}
	type step struct {
		what, want string
		act        func()
	}
	search := func(q string) func() {
		return func() {
			eval[string](t, tab, fmt.Sprintf(`(() => { const s = document.getElementById('search'); s.value = %q; s.dispatchEvent(new Event('input')); return s.value })()`, q))
		}
	}
	sortBy := func(key string) func() {
		return func() { do(t, tab, chromedp.Click(chromedp.CSS(`th[data-sort="`+key+`"] button`))) }
	}
	for _, s := range []step{
		{"by name", "app/api.log app/db.log app/worker.log other/notes.txt", func() {}},
		{"search, any case", "app/worker.log", search("WORK")},
		{"search a pattern", "app/api.log app/db.log app/worker.log", search(app + "/*.log")},
		{"search a directory", "other/notes.txt", search(td.root + "/other/")},
		{"no search", "app/api.log app/db.log app/worker.log other/notes.txt", search("")},
		{"by size, largest first", "other/notes.txt app/api.log app/db.log app/worker.log", sortBy("size")},
		{"by size, smallest first", "app/worker.log app/db.log app/api.log other/notes.txt", sortBy("size")},
		{"by time, newest first", "app/worker.log app/db.log app/api.log other/notes.txt", sortBy("mtime")},
	} {
		s.act()
		want := s.want
		until(t, tab, s.what, fmt.Sprintf(`Array.from(document.querySelectorAll('#files tbody tr'), r => r.dataset.name.slice(%d)).join(' ') === %q`, len(td.root)+1, want))
	}
	if got := eval[string](t, tab, `document.querySelector('th[data-sort="mtime"]').getAttribute('aria-sort')`); got != "descending" {
		t.Errorf("the time column says aria-sort %q", got)
	}
	if !strings.Contains(eval[string](t, tab, `location.search`), "sort=mtime") {
		t.Error("the page's URL does not keep the sort")
	}

	// A pattern offers to follow what it matches as one stream.
	search(app + "/*.log")()
	until(t, tab, "the pattern's button", `!document.getElementById('open-pattern').hidden`)
	if got := eval[string](t, tab, `document.getElementById('open-pattern').textContent`); !strings.Contains(got, "(3 files now)") {
		t.Errorf("the pattern's button says %q", got)
	}

	// Select two files, then the listing refreshes by itself: the new size
	// and time show, and the search, the sort and the selection stay.
	for _, n := range []string{"api.log", "worker.log"} {
		do(t, tab, chromedp.Click(chromedp.CSS(`tr[data-name="`+filepath.Join(app, n)+`"] .sel input`)))
	}
	until(t, tab, "two selected", `document.getElementById('open').textContent === 'open 2 merged'`)
	refreshes := eval[int](t, tab, `+document.body.dataset.refreshes`)
	worker := td.write("app/worker.log", strings.Repeat("2026-11-23T10:00:04Z worker busy\n", 200))
	setMTime(t, worker, base.Add(5*time.Hour))
	until(t, tab, "the new size of worker.log", fmt.Sprintf(`document.querySelector('tr[data-name="%s"] td.num').title === '%d bytes'`, worker, 37+200*33))
	if got := eval[int](t, tab, `+document.body.dataset.refreshes`); got <= refreshes {
		t.Errorf("refreshes %d, then %d", refreshes, got)
	}
	if got := rel(names()); got != "app/worker.log app/db.log app/api.log" {
		t.Errorf("after the refresh the rows are %q: the search or the sort was lost", got)
	}
	if got := eval[string](t, tab, `document.getElementById('search').value`); got != app+"/*.log" {
		t.Errorf("the search box holds %q", got)
	}
	if got := eval[int](t, tab, `document.querySelectorAll('#files tbody .sel input:checked').length`); got != 2 {
		t.Errorf("%d rows checked after the refresh, want 2", got)
	}
	if got := eval[string](t, tab, fmt.Sprintf(`document.querySelector('tr[data-name="%s"] time').textContent`, worker)); got != "2026-11-23 15:00:00" {
		t.Errorf("worker.log's time shows %q", got)
	}

	// The selection opens in one view of both files.
	do(t, tab, chromedp.Click(chromedp.ID("open")), chromedp.WaitReady(chromedp.CSS("body.viewer")))
	until(t, tab, "the merged view", `location.pathname === '/_logtail/view' && document.querySelectorAll('#legend button').length === 2`)
	until(t, tab, "the lines of both", `document.querySelectorAll('#log .line:not(.event)').length === 30 + 201`)
	if got := eval[string](t, tab, `Array.from(document.querySelectorAll('#legend button .name'), e => e.textContent).join(' ')`); got != "api.log worker.log" {
		t.Errorf("the legend names %q", got)
	}

	// A pattern opens the daemon's page of it, one stream of many files.
	tab2 := newTab(t, newBrowser(t))
	do(t, tab2, chromedp.Navigate(td.page("/", "q="+app+"/*.log")))
	until(t, tab2, "the pattern's button", `document.body.dataset.refreshes >= 1 && !document.getElementById('open-pattern').hidden`)
	do(t, tab2, chromedp.Click(chromedp.ID("open-pattern")), chromedp.WaitReady(chromedp.CSS("body.viewer")))
	until(t, tab2, "the files of the pattern", `document.querySelectorAll('#legend button').length === 3`)
	if got := eval[string](t, tab2, `decodeURIComponent(location.pathname)`); got != app+"/*.log" {
		t.Errorf("the pattern opened %q", got)
	}
}
