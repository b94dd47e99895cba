package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestViewerScreenshots writes the pictures of the README under the
// directory named by LOGTAILD_SCREENSHOT_DIR (docs/ is made this way:
// LOGTAILD_SCREENSHOT_DIR=$PWD/docs go test ./server -run TestViewerScreenshots):
// index.png (the index, searched and with files selected), merged.png (three
// files merged), json.png (a JSON log) and element.png (<logtail-log> in a
// page of another site).
func TestViewerScreenshots(t *testing.T) {
	out := os.Getenv("LOGTAILD_SCREENSHOT_DIR")
	if out == "" {
		t.Skip("set LOGTAILD_SCREENSHOT_DIR=dir")
	}
	host := newHostPage(t)
	td := startDaemon(t, func(c *Config) { c.AllowOrigins = []string{host.URL} })
	browser := newBrowser(t)
	shot := func(tab context.Context, name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// wait lets the page's clock run (the rate chart is over time)
	wait := func(tab context.Context, d time.Duration) {
		t.Helper()
		until(t, tab, "time to pass", fmt.Sprintf(`Date.now() >= %d`, time.Now().Add(d).UnixMilli()))
	}

	td.mkdirs("app")
	td.mkdirs("nginx")
	api, worker, db := demoLogs(td)
	now := time.Now()
	for i, f := range []string{api, worker, db} {
		setMTime(t, f, now.Add(-time.Duration(i*7)*time.Second))
	}
	setMTime(t, td.write("nginx/access.log", strings.Repeat(`10.0.0.7 - - [23/Nov/2026:10:00:01 +0000] "GET /api/items HTTP/1.1" 200 512`+"\n", 900)), now.Add(-3*time.Minute))
	setMTime(t, td.write("nginx/error.log", "2026/11/23 10:00:01 [warn] 12#12: upstream response is buffered\n"), now.Add(-2*time.Hour))
	setMTime(t, td.write("app/app.log.1", strings.Repeat("2026-11-22T23:59:59Z INFO old line\n", 3000)), now.Add(-26*time.Hour))
	setMTime(t, td.write("app/events.json", demoJSON(40)), now.Add(-40*time.Second))

	t.Run("index", func(t *testing.T) {
		tab := newTab(t, browser)
		do(t, tab, chromedp.EmulateViewport(1100, 420), chromedp.Navigate(td.page("/", "sort=mtime")))
		until(t, tab, "the listing", `document.body.dataset.refreshes >= 1`)
		for _, f := range []string{api, worker, db} {
			do(t, tab, chromedp.Click(chromedp.CSS(`tr[data-name="`+f+`"] .sel input`)))
		}
		do(t, tab, chromedp.Click(chromedp.ID("search")), chromedp.KeyEvent("app/"))
		until(t, tab, "the search", `document.querySelectorAll('#files tbody tr').length === 5`)
		shot(tab, "index.png")
	})

	t.Run("merged", func(t *testing.T) {
		tab := newTab(t, browser)
		do(t, tab, chromedp.EmulateViewport(1100, 560), chromedp.Navigate(td.viewURL("", api, worker, db)))
		until(t, tab, "connected", `document.body.dataset.state === 'connected' && document.querySelectorAll('#legend button').length === 3`)
		do(t, tab, chromedp.Click(chromedp.ID("theme"))) // dark
		r := rand.New(rand.NewPCG(1, 2))
		clock := time.Date(2026, 11, 23, 10, 0, 30, 0, time.UTC)
		for burst := range 8 {
			for range 2 + r.IntN(6) + burst {
				clock = clock.Add(time.Duration(50+r.IntN(400)) * time.Millisecond)
				name, line := demoLine(r, clock)
				td.write("app/"+name, line)
			}
			wait(tab, 700*time.Millisecond)
		}
		until(t, tab, "the lines", `+document.body.dataset.newLines > 20`)
		do(t, tab, chromedp.KeyEvent("t"), chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.body.scrollHeight)`))
		wait(tab, 300*time.Millisecond)
		shot(tab, "merged.png")
	})

	t.Run("json", func(t *testing.T) {
		p := td.write("app/service.json", demoJSON(60))
		tab := newTab(t, browser)
		do(t, tab, chromedp.EmulateViewport(1100, 560), chromedp.Navigate(td.page(p, "")))
		until(t, tab, "the records", `document.querySelectorAll('#log .j-msg').length === 60 && document.body.dataset.state === 'connected'`)
		for range 3 {
			if eval[string](t, tab, `document.getElementById('theme').textContent`) == "light" {
				break
			}
			do(t, tab, chromedp.Click(chromedp.ID("theme")))
		}
		do(t, tab, chromedp.SetValue(chromedp.ID("level"), "info"), chromedp.Evaluate[chromedp.Void](`document.getElementById('level').dispatchEvent(new Event('change'))`))
		shot(tab, "json.png")
	})

	t.Run("element", func(t *testing.T) {
		host.body.Store(`<!doctype html>
<html><head><meta charset="utf-8"><title>Deploys — Acme</title>
<style>
  body { margin: 0; font: 15px/1.5 Georgia, serif; background: #f4f1ea; color: #222; }
  header { background: #2d3e50; color: #fff; padding: 14px 28px; font: 600 18px system-ui, sans-serif; }
  main { display: grid; grid-template-columns: 260px 1fr; gap: 24px; padding: 24px 28px; }
  .card { background: #fff; border-radius: 8px; padding: 14px 18px; box-shadow: 0 1px 3px #0002; }
  .card h2 { margin: 0 0 8px; font: 600 15px system-ui, sans-serif; }
  .ok { color: #1a7f37; font-weight: 600; }
  logtail-log { height: 330px; }
  code { background: #eee; padding: 1px 4px; border-radius: 3px; font-size: 13px; }
</style></head><body>
<header>Acme · deploys</header>
<main>
  <div class="card"><h2>api · v2.14.1</h2><p>Status: <span class="ok">healthy</span><br>Deployed 4 minutes ago by ana<br>3 of 3 pods ready</p>
  <p>The log on the right is one line of HTML:<br><code>&lt;logtail-log src="…/api.log"&gt;</code></p></div>
  <div class="card"><h2>api.log, live</h2>
  <script type="module" src="http://` + td.addr + `/_logtail/logtail-log.js"></script>
  <logtail-log src="` + api + `" lines="40"></logtail-log></div>
</main></body></html>`)
		tab := newTab(t, browser)
		do(t, tab, chromedp.EmulateViewport(1100, 460), chromedp.Navigate(host.URL))
		until(t, tab, "the element's lines", `(() => { const r = document.querySelector('logtail-log').shadowRoot; return r && r.querySelectorAll('.line').length > 10 })()`)
		until(t, tab, "connected", `document.querySelector('logtail-log').dataset.state === 'connected'`)
		wait(tab, 300*time.Millisecond) // the stylesheet
		shot(tab, "element.png")
	})
}

var demoRequests = []string{"/api/items", "/api/items/42", "/api/orders", "/api/users/7", "/healthz", "/api/search?q=lamp"}

// demoLine is a line of one of the demo logs, at clock.
func demoLine(r *rand.Rand, clock time.Time) (file, line string) {
	ts := clock.Format("2006-01-02T15:04:05.000Z")
	switch r.IntN(3) {
	case 0:
		status, colour := 200, "32"
		switch n := r.IntN(10); {
		case n == 0:
			status, colour = 500, "31"
		case n < 2:
			status, colour = 404, "33"
		}
		return "api.log", fmt.Sprintf("%s \x1b[%smINFO\x1b[0m  %s %d \x1b[2m%dms\x1b[0m\n", ts, colour, demoRequests[r.IntN(len(demoRequests))], status, 2+r.IntN(80))
	case 1:
		if r.IntN(6) == 0 {
			return "worker.log", fmt.Sprintf("%s \x1b[33mWARN\x1b[0m  job %d retried: \x1b[1mtimeout\x1b[0m after 30s\n", ts, 1000+r.IntN(9000))
		}
		return "worker.log", fmt.Sprintf("%s \x1b[32mINFO\x1b[0m  job %d done in %.1fs queue=emails\n", ts, 1000+r.IntN(9000), 0.1+r.Float64()*3)
	default:
		if r.IntN(8) == 0 {
			return "db.log", fmt.Sprintf("%s \x1b[31mERROR\x1b[0m deadlock detected on \x1b[36morders\x1b[0m, transaction retried\n", ts)
		}
		return "db.log", fmt.Sprintf("%s \x1b[34mLOG\x1b[0m   duration: %.3f ms  statement: SELECT * FROM items WHERE id = %d\n", ts, r.Float64()*20, r.IntN(500))
	}
}

// demoLogs writes app/api.log, app/worker.log and app/db.log, whose lines
// interleave in time.
func demoLogs(td *testDaemon) (api, worker, db string) {
	r := rand.New(rand.NewPCG(7, 8))
	files := map[string]*strings.Builder{"api.log": {}, "worker.log": {}, "db.log": {}}
	clock := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for range 60 {
		clock = clock.Add(time.Duration(100+r.IntN(600)) * time.Millisecond)
		name, line := demoLine(r, clock)
		files[name].WriteString(line)
	}
	return td.write("app/api.log", files["api.log"].String()), td.write("app/worker.log", files["worker.log"].String()),
		td.write("app/db.log", files["db.log"].String())
}

// demoJSON is n records of a service logging with slog.
func demoJSON(n int) string {
	r := rand.New(rand.NewPCG(3, 4))
	clock := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var b strings.Builder
	for i := range n {
		clock = clock.Add(time.Duration(80+r.IntN(900)) * time.Millisecond)
		ts := clock.Format("2006-01-02T15:04:05.000Z07:00")
		switch k := r.IntN(12); {
		case k == 0:
			fmt.Fprintf(&b, `{"time":%q,"level":"ERROR","msg":"payment failed","order":%d,"err":"card declined","attempt":%d}`+"\n", ts, 5000+i, 1+r.IntN(3))
		case k < 3:
			fmt.Fprintf(&b, `{"time":%q,"level":"WARN","msg":"slow query","table":"orders","took_ms":%d}`+"\n", ts, 300+r.IntN(900))
		case k < 5:
			fmt.Fprintf(&b, `{"time":%q,"level":"DEBUG","msg":"cache hit","key":"item:%d"}`+"\n", ts, r.IntN(900))
		default:
			fmt.Fprintf(&b, `{"time":%q,"level":"INFO","msg":"request served","method":"GET","path":%q,"status":200,"took_ms":%d,"user":{"id":%d,"plan":"pro"}}`+"\n",
				ts, demoRequests[r.IntN(len(demoRequests))], 1+r.IntN(60), r.IntN(100))
		}
	}
	return b.String()
}
