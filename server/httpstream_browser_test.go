package server

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestEventSourceResumesAcrossRestart: the browser's own EventSource reads
// the event stream of a file. The daemon stops (the stream ends), lines are
// written and the file rotated while it is down, and it starts again: the
// EventSource reconnects by itself, sending the last id it saw as
// Last-Event-ID, and the page has every line once, in order.
func TestEventSourceResumesAcrossRestart(t *testing.T) {
	td := startDaemon(t)
	browser := newBrowser(t)
	tab := newTab(t, browser)
	p := td.write("app.log", lines("l", 1, 50))
	do(t, tab, chromedp.Navigate(td.page("/healthz", ""))) // a page of the daemon's origin
	eval[bool](t, tab, fmt.Sprintf(`(() => {
		window.got = []; window.opens = 0; window.events = [];
		const es = new EventSource(%q);
		es.onopen = () => { opens++; };
		es.onmessage = (e) => {
			const m = JSON.parse(e.data);
			if (e.lastEventId !== m.pos) throw new Error('id ' + e.lastEventId + ' is not the position ' + m.pos);
			got.push(...m.lines);
		};
		for (const kind of ['rotated', 'truncated', 'gap'])
			es.addEventListener(kind, (e) => events.push(kind + ' ' + JSON.parse(e.data).file));
		window.es = es;
		return true;
	})()`, p+"?lines=100&tail=1"))
	until(t, tab, "the last lines", `got.length === 50`)
	td.write("app.log", lines("l", 51, 60))
	until(t, tab, "the new lines", `got.length === 60`)

	td.shutdown()
	td.write("app.log", lines("l", 61, 70)) // while the daemon is down
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	td.write("app.log", lines("l", 71, 80))
	td = startDaemonAt(t, td.root, td.addr)
	td.write("app.log", lines("l", 81, 90))

	untilWithin(t, tab, 60*time.Second, "every line after the restart", `got.length >= 90`)
	got := eval[[]string](t, tab, `got`)
	equalLines(t, got, splitLines(lines("l", 1, 90)))
	if opens := eval[int](t, tab, `opens`); opens < 2 {
		t.Errorf("the EventSource opened %d time(s): it should have reconnected", opens)
	}
	events := eval[[]string](t, tab, `events`)
	if len(events) != 1 || !strings.HasPrefix(events[0], "rotated ") {
		t.Errorf("events %q, want the rotation", events)
	}
	eval[bool](t, tab, `(es.close(), true)`)
}
