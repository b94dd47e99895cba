package server

// End-to-end tests of the web viewer: the real daemon, and a real browser
// (Debian's chromium, driven with chromedp) for everything the page does.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium finds the browser: missing, the browser tests skip, or fail in CI.
func chromium(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (scripts/test installs it)")
	}
	t.Skip("chromium is not installed (apt-get install chromium, or run scripts/test)")
	return ""
}

// newBrowser starts a headless chromium with a fresh profile for the test;
// it is stopped at the end of the test, or after three minutes at most.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	bound, cancelBound := context.WithTimeout(context.Background(), 3*time.Minute)
	alloc, cancelAlloc := chromedp.NewExecAllocator(bound,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("enable-precise-memory-info", true),
		chromedp.WindowSize(1200, 800),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc(); cancelBound() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// newTab opens a tab, closed at the end of the (sub)test.
func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	return ctx
}

// do runs the steps within 30 s.
func do(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the tab.
func eval[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// until polls a JavaScript condition in the tab until it holds (30 s at most).
func until(t *testing.T, tab context.Context, what, cond string) {
	t.Helper()
	untilWithin(t, tab, 30*time.Second, what, cond)
}

// untilWithin is until with its own limit, for the slow cases.
func untilWithin(t *testing.T, tab context.Context, limit time.Duration, what, cond string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, limit+10*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(limit)))
	if err != nil {
		t.Fatalf("waiting for %s (%s): %v\nshown: %q", what, cond, err, tail(shownLines(t, tab), 5))
	}
}

func tail(s []string, n int) []string { return s[max(len(s)-n, 0):] }

// shownLines is the text of the log lines in the page (not the event markers).
func shownLines(t *testing.T, tab context.Context) []string {
	t.Helper()
	return eval[[]string](t, tab, `Array.from(document.querySelectorAll('#log .line:not(.event)'), e => e.textContent)`)
}

const lastLineJS = `(document.querySelector('#log .line:last-child') || {}).textContent`

func (td *testDaemon) page(path, query string) string {
	u := "http://" + td.addr + path
	if query != "" {
		u += "?" + query
	}
	return u
}

func lines(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%s %d\n", prefix, i)
	}
	return b.String()
}

func splitLines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

func equalLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("line %d is %q, want %q (got %d lines, want %d)", i, got[i], want[i], len(got), len(want))
		}
	}
	t.Fatalf("got %d lines, want %d; last got %q", len(got), len(want), tail(got, 3))
}

func TestWebViewer(t *testing.T) {
	td := startDaemon(t)
	browser := newBrowser(t)

	t.Run("colours", func(t *testing.T) {
		p := td.write("colour.log", "plain\n\x1b[31mred\x1b[0m after\n")
		tab := newTab(t, browser)
		do(t, tab, chromedp.Navigate(td.page(p, "")))
		until(t, tab, "the red span", `document.querySelector('#log span.term-fg31') !== null`)
		span := eval[string](t, tab, `getComputedStyle(document.querySelector('#log span.term-fg31')).color`)
		text := eval[string](t, tab, `getComputedStyle(document.querySelector('#log .line')).color`)
		if span == text || span == "" {
			t.Errorf("term-fg31 is %q, the default text %q: want a colour of its own", span, text)
		}
		if got := eval[string](t, tab, `document.querySelector('#log span.term-fg31').textContent`); got != "red" {
			t.Errorf("red span holds %q", got)
		}
		// The page's own stylesheet follows the theme toggle (render.CSS's theme classes).
		light := eval[string](t, tab, `getComputedStyle(document.body).backgroundColor`)
		for range 3 {
			if eval[string](t, tab, `document.getElementById('theme').textContent`) == "light" {
				break
			}
			do(t, tab, chromedp.Click(chromedp.ID("theme")))
		}
		lightBG := eval[string](t, tab, `getComputedStyle(document.body).backgroundColor`)
		do(t, tab, chromedp.Click(chromedp.ID("theme"))) // auto
		do(t, tab, chromedp.Click(chromedp.ID("theme"))) // dark
		darkBG := eval[string](t, tab, `getComputedStyle(document.body).backgroundColor`)
		if lightBG == darkBG {
			t.Errorf("theme toggle: light and dark backgrounds are both %q (auto: %q)", lightBG, light)
		}
	})

	t.Run("follows", func(t *testing.T) {
		p := td.write("follow.log", lines("f", 1, 3))
		tab := newTab(t, browser)
		do(t, tab, chromedp.Navigate(td.page(p, "")))
		until(t, tab, "the last line", lastLineJS+` === 'f 3'`)
		until(t, tab, "connected", `document.body.dataset.state === 'connected'`)
		td.write("follow.log", "f 4 appended\n")
		until(t, tab, "the appended line", lastLineJS+` === 'f 4 appended'`)
		equalLines(t, shownLines(t, tab), []string{"f 1", "f 2", "f 3", "f 4 appended"})
	})

	t.Run("pause loses nothing", func(t *testing.T) {
		p := td.write("pause.log", lines("p", 1, 3))
		tab := newTab(t, browser)
		do(t, tab, chromedp.Navigate(td.page(p, "")))
		until(t, tab, "the last line", lastLineJS+` === 'p 3'`)
		until(t, tab, "connected", `document.body.dataset.state === 'connected'`)
		do(t, tab, chromedp.KeyEvent("p"))
		until(t, tab, "paused", `document.body.dataset.state === 'paused'`)
		td.write("pause.log", lines("q", 1, 50))
		do(t, tab, chromedp.Click(chromedp.ID("pause")))
		until(t, tab, "the 50 lines", lastLineJS+` === 'q 50'`)
		td.write("pause.log", "end\n") // anything repeated would come before it
		until(t, tab, "the end line", lastLineJS+` === 'end'`)
		equalLines(t, shownLines(t, tab), splitLines(lines("p", 1, 3)+lines("q", 1, 50)+"end\n"))
	})

	t.Run("log text is never markup", func(t *testing.T) {
		p := td.write("xss.log", "<img src=x onerror=window.__pwned=1>\n<script>window.__pwned=1</script>\n\x1b[32m<b onmouseover=window.__pwned=1>green</b>\x1b[0m\n")
		tab := newTab(t, browser)
		do(t, tab, chromedp.Navigate(td.page(p, "")))
		until(t, tab, "the lines", `document.querySelectorAll('#log .line').length === 3`)
		equalLines(t, shownLines(t, tab), []string{"<img src=x onerror=window.__pwned=1>", "<script>window.__pwned=1</script>", "<b onmouseover=window.__pwned=1>green</b>"})
		if n := eval[int](t, tab, `document.querySelectorAll('#log img, #log script, #log b').length`); n != 0 {
			t.Errorf("%d elements made from log text", n)
		}
		if v := eval[string](t, tab, `typeof window.__pwned`); v != "undefined" {
			t.Errorf("window.__pwned is %s", v)
		}
	})

	t.Run("embed", func(t *testing.T) {
		p := td.write("embed.log", "embedded line\n")
		tab := newTab(t, browser)
		do(t, tab, chromedp.Navigate(td.page(p, "embed=1")))
		until(t, tab, "the line", lastLineJS+` === 'embedded line'`)
		if eval[bool](t, tab, `document.getElementById('toolbar') !== null || document.querySelector('.toolbar') !== null`) {
			t.Error("embed=1 shows the toolbar")
		}
	})

	t.Run("filter", func(t *testing.T) {
		p := td.write("filter.log", "alpha one\nbeta two\nALPHA three\n")
		tab := newTab(t, browser)
		do(t, tab, chromedp.Navigate(td.page(p, "")))
		until(t, tab, "the lines", lastLineJS+` === 'ALPHA three'`)
		do(t, tab, chromedp.KeyEvent("/"))
		if id := eval[string](t, tab, `document.activeElement.id`); id != "filter" {
			t.Fatalf("'/' focused %q, want the filter", id)
		}
		// CDP sends the '/' as a char event too, which a real keyboard's
		// cancelled keydown would not: clear it.
		eval[string](t, tab, `document.getElementById('filter').value = ''`)
		do(t, tab, chromedp.KeyEvent("alpha"))
		until(t, tab, "two hits", `document.querySelectorAll('#log .line.hit').length === 2`)
		do(t, tab, chromedp.Click(chromedp.ID("only")))
		until(t, tab, "only the hits shown", `Array.from(document.querySelectorAll('#log .line')).filter(e => e.offsetParent !== null).length === 2`)
	})

	t.Run("cap", func(t *testing.T) {
		p := td.write("cap.log", lines("c", 1, 10))
		tab := newTab(t, browser)
		do(t, tab, chromedp.Navigate(td.page(p, "")))
		until(t, tab, "the first lines", lastLineJS+` === 'c 10'`)
		td.write("cap.log", lines("c", 11, 6010))
		until(t, tab, "the newest line", lastLineJS+` === 'c 6010'`)
		got := shownLines(t, tab)
		if len(got) != 5000 || got[0] != "c 1011" {
			t.Errorf("%d lines kept, the first %q: want 5000 from c 1011", len(got), got[0])
		}
		if !eval[bool](t, tab, `(() => { const s = document.scrollingElement; return s.scrollHeight - s.scrollTop - s.clientHeight < 8 })()`) {
			t.Error("the view is not pinned to the newest line")
		}
	})
}

// restartDaemon stops td and serves the same configuration on the same address.
func restartWeb(t *testing.T, td *testDaemon) *testDaemon {
	t.Helper()
	td.shutdown()
	d, err := New(td.d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", td.addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	nd := &testDaemon{t: t, d: d, addr: td.addr, root: td.root, stop: cancel, done: make(chan error, 1)}
	go func() { nd.done <- d.Serve(ctx, ln) }()
	t.Cleanup(nd.shutdown)
	return nd
}

// TestWebViewerReconnects drops the daemon under the page: the page
// reconnects and resumes from its position, losing and repeating nothing.
func TestWebViewerReconnects(t *testing.T) {
	td := startDaemon(t)
	browser := newBrowser(t)
	p := td.write("app.log", lines("r", 1, 5))
	tab := newTab(t, browser)
	do(t, tab, chromedp.Navigate(td.page(p, "")))
	until(t, tab, "the last line", lastLineJS+` === 'r 5'`)
	td.shutdown()
	until(t, tab, "reconnecting", `document.body.dataset.state === 'reconnecting'`)
	td.write("app.log", lines("r", 6, 20))
	td = restartWeb(t, td)
	until(t, tab, "the lines written meanwhile", lastLineJS+` === 'r 20'`)
	until(t, tab, "connected", `document.body.dataset.state === 'connected'`)
	td.write("app.log", "r 21\n")
	until(t, tab, "a line after the reconnection", lastLineJS+` === 'r 21'`)
	equalLines(t, shownLines(t, tab), splitLines(lines("r", 1, 21)))
}

// TestWebViewerMemory measures the page after 100,000 lines at the default
// cap: a figure for the notes, not an assertion.
func TestWebViewerMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 lines through a browser")
	}
	td := startDaemon(t)
	browser := newBrowser(t)
	p := td.write("big.log", "start\n")
	tab := newTab(t, browser)
	do(t, tab, chromedp.Navigate(td.page(p, "")))
	until(t, tab, "the first line", lastLineJS+` === 'start'`)
	var b strings.Builder
	for i := 1; i <= 100_000; i++ {
		fmt.Fprintf(&b, "2026-11-23T10:00:00Z INFO request %d served in 3ms \x1b[32mok\x1b[0m path=/api/items/%d\n", i, i)
	}
	start := time.Now()
	td.write("big.log", b.String())
	// a busy CI machine with the race detector: give it time, it is not a timing test
	untilWithin(t, tab, 3*time.Minute, "the 100,000th line", lastLineJS+` === '2026-11-23T10:00:00Z INFO request 100000 served in 3ms ok path=/api/items/100000'`)
	took := time.Since(start)
	if n := eval[int](t, tab, `document.querySelectorAll('#log .line').length`); n != 5000 {
		t.Errorf("%d lines in the page, want the cap 5000", n)
	}
	heap := func() runtime.GetHeapUsageResult {
		ctx, cancel := context.WithTimeout(tab, 30*time.Second)
		defer cancel()
		u, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (runtime.GetHeapUsageResult, error) {
			return cdp.Call(ctx, tg, runtime.GetHeapUsage, cdp.Empty{})
		})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	before := heap()
	perf := eval[float64](t, tab, `performance.memory ? performance.memory.usedJSHeapSize : 0`)
	nodes := eval[int](t, tab, `document.getElementsByTagName('*').length`)
	t.Logf("100,000 lines shown in %v; 5,000 kept (%d DOM elements); JS heap used %.1f MiB (allocated %.1f MiB; performance.memory %.1f MiB); DOM (embedder) heap %.1f MiB",
		took.Round(time.Millisecond), nodes, before.UsedSize/(1<<20), before.TotalSize/(1<<20), perf/(1<<20), before.EmbedderHeapUsedSize/(1<<20))
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, tg, heapprofiler.CollectGarbage, cdp.Empty{})
	}); err != nil {
		t.Fatal(err)
	}
	after := heap()
	t.Logf("after a garbage collection: JS heap used %.1f MiB, DOM (embedder) heap %.1f MiB", after.UsedSize/(1<<20), after.EmbedderHeapUsedSize/(1<<20))
}

// TestWebOrigin: a page from another origin cannot read a stream.
func TestWebOrigin(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "secret line\n")

	t.Run("handshake from Go", func(t *testing.T) {
		req, _ := http.NewRequest("GET", td.page(p, "tail=1"), nil)
		for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": "http://evil.example"} {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "secret") {
			t.Errorf("got %d %q, want 403", resp.StatusCode, body)
		}
	})

	t.Run("from a browser page", func(t *testing.T) {
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><script>
var ws = new WebSocket(%q);
ws.onmessage = function () { window.__got = true; };
ws.onerror = function () { window.__error = true; };
ws.onclose = function (e) { window.__closed = e.code; };
</script>`, td.url(p, "tail=1&lines=1"))
		}))
		defer evil.Close()
		tab := newTab(t, newBrowser(t))
		do(t, tab, chromedp.Navigate(evil.URL))
		until(t, tab, "the socket to close", `window.__closed !== undefined`)
		if eval[bool](t, tab, `window.__got === true`) {
			t.Error("a page from another origin read the stream")
		}
		if !eval[bool](t, tab, `window.__error === true`) {
			t.Error("no error event")
		}
	})
}

func TestWebIndex(t *testing.T) {
	td := startDaemon(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.log"), []byte("secret\n"), 0o644)
	if err := os.Symlink(filepath.Join(outside, "secret.log"), filepath.Join(td.root, "escape.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(td.root, "sub", "f0000.log"), filepath.Join(td.root, "inside-link.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(td.root, "escape-dir")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(td.root, "sub"), 0o755)
	for i := range 1199 {
		td.write(fmt.Sprintf("sub/f%04d.log", i), "x\n")
	}
	// 1,199 files and one symlink inside the root: 1,200 entries.

	type entry struct {
		Name  string    `json:"name"`
		Size  int64     `json:"size"`
		MTime time.Time `json:"mtime"`
		URL   string    `json:"url"`
	}
	type listing struct {
		Files  []entry `json:"files"`
		Total  int     `json:"total"`
		Offset int     `json:"offset"`
		Next   string  `json:"next"`
		Prev   string  `json:"prev"`
	}
	getJSON := func(t *testing.T, query string) listing {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+td.addr+"/"+query, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%d %s", resp.StatusCode, ct)
		}
		var l listing
		if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
			t.Fatal(err)
		}
		return l
	}

	t.Run("json", func(t *testing.T) {
		all := map[string]entry{}
		l := getJSON(t, "")
		if l.Total != 1200 || len(l.Files) != 500 || l.Next == "" || l.Prev != "" {
			t.Fatalf("first page: total %d, %d files, next %q, prev %q", l.Total, len(l.Files), l.Next, l.Prev)
		}
		for pages := 1; ; pages++ {
			for _, f := range l.Files {
				all[f.Name] = f
			}
			if l.Next == "" {
				if pages != 3 {
					t.Errorf("%d pages, want 3", pages)
				}
				break
			}
			l = getJSON(t, strings.TrimPrefix(l.Next, "/"))
			if l.Prev == "" {
				t.Error("a later page has no previous link")
			}
		}
		if len(all) != 1200 {
			t.Errorf("%d distinct files over the pages, want 1200", len(all))
		}
		f, ok := all[filepath.Join(td.root, "sub", "f0042.log")]
		if !ok || f.Size != 2 || time.Since(f.MTime) > time.Hour || f.URL != filepath.Join(td.root, "sub", "f0042.log") {
			t.Errorf("f0042.log: %+v", f)
		}
		if _, ok := all[filepath.Join(td.root, "inside-link.log")]; !ok {
			t.Error("a symlink to a file inside the root is not listed")
		}
		for name := range all {
			if strings.Contains(name, "escape") || strings.Contains(name, "secret") {
				t.Errorf("%s is listed: it leads outside the root", name)
			}
		}
	})

	t.Run("bad paging", func(t *testing.T) {
		resp, err := http.Get("http://" + td.addr + "/?limit=x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("limit=x: %d, want 400", resp.StatusCode)
		}
	})

	t.Run("html in a browser", func(t *testing.T) {
		tab := newTab(t, newBrowser(t))
		do(t, tab, chromedp.Navigate("http://"+td.addr+"/"))
		until(t, tab, "the table", `document.querySelectorAll('#files tbody a').length === 500`)
		if !eval[bool](t, tab, `document.getElementById('next') !== null && document.getElementById('prev') === null`) {
			t.Error("first page: want a next link and no previous one")
		}
		// The stylesheets load under the policy: the table is styled.
		if got := eval[string](t, tab, `getComputedStyle(document.getElementById('files')).borderCollapse`); got != "collapse" {
			t.Errorf("stylesheet not applied: border-collapse %q", got)
		}
		do(t, tab, chromedp.Navigate(eval[string](t, tab, `document.getElementById('next').href`)))
		until(t, tab, "the second page", `document.querySelectorAll('#files tbody a').length === 500 && document.getElementById('prev') !== null`)
		do(t, tab, chromedp.Navigate(eval[string](t, tab, `document.querySelector('#files tbody a[href$="f0600.log"]').href`)))
		until(t, tab, "the viewer of f0600.log", lastLineJS+` === 'x'`)
	})
}

// TestWebHeaders: every page carries the policy; the viewer refuses what the
// stream refuses, with the same statuses.
func TestWebHeaders(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.AllowOrigins = []string{"https://site.example"} })
	p := td.write("app.log", "x\n")
	os.Mkdir(filepath.Join(td.root, "dir"), 0o755)
	get := func(t *testing.T, rawURL string) *http.Response {
		t.Helper()
		resp, err := http.Get(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, u := range []string{"/", p, p + "?embed=1", "/_logtail/viewer.js", "/_logtail/viewer.css", "/_logtail/terminal.css"} {
		t.Run("headers "+u, func(t *testing.T) {
			resp := get(t, "http://"+td.addr+u)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
				"base-uri 'none'", "frame-ancestors 'self' https://site.example"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe") {
				t.Errorf("CSP %q allows unsafe sources", csp)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("headers %v", resp.Header)
			}
		})
	}
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/etc/passwd", 403},
		{td.root + "/missing.log", 404},
		{td.root + "/dir", 200}, // the viewer of the files in it
		{td.root + "/dir?download=1", 400},
		{td.root + "/%2e%2e/%2e%2e/etc/passwd", 400},
		{p + "?lines=x", 400},
		{"/_logtail/nope.js", 404},
	} {
		t.Run(fmt.Sprintf("status %s", tt.path), func(t *testing.T) {
			if resp := get(t, "http://"+td.addr+tt.path); resp.StatusCode != tt.status {
				t.Errorf("got %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
}

// TestWebScreenshot writes the viewer of the demo logs to the file named by
// LOGTAILD_SCREENSHOT (docs/viewer.png is made this way).
func TestWebScreenshot(t *testing.T) {
	out := os.Getenv("LOGTAILD_SCREENSHOT")
	if out == "" {
		t.Skip("set LOGTAILD_SCREENSHOT=path.png")
	}
	demo, err := filepath.Abs("../testdata/logs")
	if err != nil {
		t.Fatal(err)
	}
	td := startDaemon(t, func(c *Config) { c.Roots = []string{demo} })
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.EmulateViewport(1100, 560), chromedp.Navigate(td.page(demo+"/app.log", "")))
	until(t, tab, "the lines", `document.querySelectorAll('#log .line').length > 5 && document.body.dataset.state === 'connected'`)
	do(t, tab, chromedp.Click(chromedp.ID("filter")), chromedp.KeyEvent("error"), chromedp.Click(chromedp.ID("theme")))
	until(t, tab, "the filter", `document.querySelectorAll('#log .line.hit').length > 0`)
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
