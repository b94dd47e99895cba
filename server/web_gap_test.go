package server

// The viewer's marker for lines lost (a gap event), in a real browser.

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/logtail/logtail/wsconn"
)

// visibleJS counts the elements a selector finds that are laid out (not
// display:none, as the filter's "only matching" hides lines).
func visibleJS(sel string) string {
	return `Array.from(document.querySelectorAll('` + sel + `')).filter(e => e.offsetParent !== null).length`
}

// TestWebViewerGap: a real gap. The page follows a file; while the daemon is
// down the file is replaced, so the position the page resumes from names a
// file that is gone and the daemon sends a gap. The page shows a warning
// marker of its own, unlike the rotation's, and the filter never hides it.
func TestWebViewerGap(t *testing.T) {
	td := startDaemon(t)
	browser := newBrowser(t)
	p := td.write("app.log", "old 1\nold 2\n")
	tab := newTab(t, browser)
	do(t, tab, chromedp.Navigate(td.page(p, "")))
	until(t, tab, "the last line", lastLineJS+` === 'old 2'`)
	until(t, tab, "connected", `document.body.dataset.state === 'connected'`)

	// a filter that matches nothing, showing only matching lines
	eval[string](t, tab, `(() => { const f = document.getElementById('filter'); f.value = 'matches nothing';
		f.dispatchEvent(new Event('input')); return f.value })()`)
	do(t, tab, chromedp.Click(chromedp.ID("only")))
	until(t, tab, "the lines hidden by the filter", `document.getElementById('log').classList.contains('only') && `+
		visibleJS(`#log .line:not(.event)`)+` === 0`)

	td.shutdown()
	until(t, tab, "reconnecting", `document.body.dataset.state === 'reconnecting'`)
	// The new file is made while the old one exists, so it cannot get the
	// old inode back (ext4 reuses a freed one at once, and the daemon would
	// then resume in it): the position's file must be gone.
	td.write("app.log.new", "new 1\n")
	if err := os.Rename(p+".new", p); err != nil {
		t.Fatal(err)
	}
	restartWeb(t, td) // the page reconnects to it by itself
	until(t, tab, "the gap marker", `document.querySelector('#log .line.gap') !== null`)
	until(t, tab, "the new file's line", `Array.from(document.querySelectorAll('#log .line:not(.event)'), e => e.textContent).includes('new 1')`)

	type marker struct {
		Text, Class, Color, Background, FontStyle string
		Visible                                   bool
	}
	markers := eval[[]marker](t, tab, `Array.from(document.querySelectorAll('#log .line.event'), e => {
		const s = getComputedStyle(e);
		return {Text: e.textContent, Class: e.className, Color: s.color, Background: s.backgroundColor,
			FontStyle: s.fontStyle, Visible: e.offsetParent !== null};
	})`)
	var gap, rotated *marker
	for i, m := range markers {
		switch {
		case strings.Contains(m.Class, "gap"):
			if gap != nil {
				t.Errorf("a second gap marker: %+v", m)
			}
			gap = &markers[i]
		case strings.Contains(m.Text, "file rotated"):
			rotated = &markers[i]
		}
	}
	t.Logf("markers: %+v", markers)
	if gap == nil || rotated == nil {
		t.Fatalf("want a gap and a rotation marker, got %+v", markers)
	}
	if !strings.Contains(gap.Text, "lines lost") || !strings.Contains(gap.Text, "is gone") {
		t.Errorf("gap marker says %q: want that lines were lost, and the daemon's reason", gap.Text)
	}
	if !gap.Visible {
		t.Error("the filter hides the gap marker")
	}
	if gap.Color == rotated.Color || gap.Background == rotated.Background {
		t.Errorf("the gap marker looks like the rotation's: %+v and %+v", *gap, *rotated)
	}
	// in the page where it happened: after the old lines, before the new file's
	order := eval[[]string](t, tab, `Array.from(document.querySelectorAll('#log .line'), e => e.classList.contains('gap') ? 'GAP' : e.textContent)`)
	if strings.Join(order, "|") != "old 1|old 2|GAP|— file rotated —|new 1" {
		t.Errorf("the page holds %q", order)
	}
}

// TestWebViewerGapDetails: the bytes and the file a gap may carry are shown,
// as text. The page and its script come from the real daemon; the stream is
// scripted, because the daemon does not send bytes or file yet.
func TestWebViewerGapDetails(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "unused\n")
	script := make(chan []string, 1) // for the first connection; a reconnection gets nothing
	script <- []string{
		`{"lines":["a line"],"pos":"1:2:7"}`,
		`{"event":"gap","reason":"rotated away unread","pos":"1:3:0","file":"/var/log/<b>app</b>.log.1","bytes":4096}`,
		`{"lines":["after"],"pos":"1:3:6"}`,
	}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWebSocket(r) {
			td.d.ServeHTTP(w, r)
			return
		}
		c, err := wsconn.Upgrade(w, r, wsconn.Config{CloseWait: time.Second}, nil)
		if err != nil {
			t.Error(err)
			return
		}
		select {
		case msgs := <-script:
			for _, m := range msgs {
				if err := c.WriteText(append(make([]byte, wsconn.HeaderRoom), m...)); err != nil {
					t.Error(err)
				}
			}
		default:
		}
		<-release // held open, as a followed stream is
		c.Close(wsconn.CodeGoingAway, "")
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before srv.Close: the handlers return

	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(srv.URL+p))
	until(t, tab, "the line after the gap", lastLineJS+` === 'after'`)
	got := eval[string](t, tab, `document.querySelector('#log .line.gap').textContent`)
	for _, want := range []string{"lines lost", "rotated away unread", "4096 bytes", "/var/log/<b>app</b>.log.1"} {
		if !strings.Contains(got, want) {
			t.Errorf("gap marker %q lacks %q", got, want)
		}
	}
	if n := eval[int](t, tab, `document.querySelectorAll('#log b').length`); n != 0 {
		t.Errorf("%d elements made from the file name", n)
	}
}
