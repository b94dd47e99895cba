package server

// Helpers of the viewer's browser tests (viewer_*_test.go); the browser
// itself is web_test.go's (newBrowser, newTab, do, eval, until).

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// evalAwait evaluates an expression whose value is a promise, and waits for it.
func evalAwait[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// viewURL is the page that follows paths merged in one view.
func (td *testDaemon) viewURL(query string, paths ...string) string {
	q := url.Values{}
	for _, p := range paths {
		q.Add("path", p)
	}
	u := "http://" + td.addr + "/_logtail/view?" + q.Encode()
	if query != "" {
		u += "&" + query
	}
	return u
}

// mkdirs makes a directory under the root.
func (td *testDaemon) mkdirs(name string) string {
	td.t.Helper()
	p := filepath.Join(td.root, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		td.t.Fatal(err)
	}
	return p
}

// setMTime sets a file's modification time.
func setMTime(t *testing.T, path string, mt time.Time) {
	t.Helper()
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

// Expressions over the viewer's page.
const (
	// the text of the lines laid out (not hidden by a toggle, a filter or a level)
	visibleLinesJS = `Array.from(document.querySelectorAll('#log .line:not(.event)')).filter(e => e.offsetParent !== null).map(e => e.textContent)`
	// the file each line of the log is of (its gutter's name), events as EVENT
	lineFilesJS = `Array.from(document.querySelectorAll('#log .line'), e => e.classList.contains('event') ? 'EVENT' : e.querySelector('.gut').dataset.f)`
)

func visibleLines(t *testing.T, tab context.Context) []string {
	t.Helper()
	return eval[[]string](t, tab, visibleLinesJS)
}

// scrollUpUntil scrolls the page to its top (which loads older lines) at
// every poll, until cond holds.
func scrollUpUntil(t *testing.T, tab context.Context, what, cond string) {
	t.Helper()
	until(t, tab, what, `(window.scrollTo(0, 0), `+cond+`)`)
}

// beforeServed says whether the daemon serves before= (wire's "Paging
// back"; server/before.go answered 501 before it did).
func beforeServed(t *testing.T, td *testDaemon, path string) bool {
	t.Helper()
	get := func(query string) (int, string) {
		resp, err := http.Get(td.page(path, query))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("format=json&lines=1")
	var m struct {
		Pos string `json:"pos"`
	}
	if code != 200 || json.Unmarshal([]byte(strings.SplitN(body, "\n", 2)[0]), &m) != nil || m.Pos == "" {
		t.Fatalf("the last line of %s: %d %q", path, code, body)
	}
	code, _ = get("format=json&lines=1&before=" + url.QueryEscape(m.Pos))
	return code != http.StatusNotImplemented
}
