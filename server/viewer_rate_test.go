package server

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestViewerRate: the rate counts only the lines written after the page
// opened, not the last lines read first (an idle file is 0 lines/s), and
// draws them; with several files each has its own. The arrival time of each
// line shows on request.
func TestViewerRate(t *testing.T) {
	td := startDaemon(t)
	p := td.write("busy.log", lines("old", 1, 800))
	q := td.write("quiet.log", lines("calm", 1, 5))
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(td.page(p, "")))
	until(t, tab, "the last lines", lastLineJS+` === 'old 800' && document.body.dataset.state === 'connected'`)
	until(t, tab, "a status after the last lines", `/ 800 shown$/.test(document.getElementById('status').textContent)`)
	status := eval[string](t, tab, `document.getElementById('status').textContent`)
	if !strings.Contains(status, "· 0 lines/s ·") || eval[string](t, tab, `document.body.dataset.newLines`) != "0" {
		t.Errorf("an idle file after 800 last lines: %q, %s new lines", status, eval[string](t, tab, `document.body.dataset.newLines`))
	}
	if d := eval[string](t, tab, `document.querySelector('#chart .stroke').getAttribute('d')`); rises(d) {
		t.Errorf("an idle file's chart rises: %q", d)
	}

	td.write("busy.log", lines("new", 1, 40))
	until(t, tab, "the 40 new lines counted", `document.body.dataset.newLines === '40'`)
	until(t, tab, "a rate", `/· [1-9][0-9.]* lines\/s ·/.test(document.getElementById('status').textContent)`)
	if d := eval[string](t, tab, `document.querySelector('#chart .stroke').getAttribute('d')`); !rises(d) {
		t.Errorf("the chart after 40 lines is flat: %q", d)
	}

	// the arrival time: only lines that arrived live have one
	do(t, tab, chromedp.KeyEvent("t"))
	until(t, tab, "the times", `document.getElementById('log').classList.contains('times')`)
	type gut struct{ T, Shown string }
	guts := eval[[]gut](t, tab, `Array.from(document.querySelectorAll('#log .line .gut'), g => ({T: g.dataset.t || '', Shown: getComputedStyle(g, '::before').content}))`)
	clock := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d\d\d$`)
	if len(guts) != 840 || guts[0].T != "" || !clock.MatchString(guts[839].T) || guts[839].Shown != strconv.Quote(guts[839].T) {
		t.Errorf("%d gutters; the first %+v, the last %+v", len(guts), guts[0], guts[len(guts)-1])
	}
	if !eval[bool](t, tab, `document.getElementById('times').checked`) {
		t.Error("the time box is not checked")
	}

	// several files: each its own rate
	do(t, tab, chromedp.Navigate(td.viewURL("", p, q)))
	until(t, tab, "the merged view", `document.querySelectorAll('#legend button').length === 2 && document.body.dataset.state === 'connected'`)
	td.write("quiet.log", lines("calm", 6, 25))
	until(t, tab, "quiet.log's rate", `document.querySelector('#legend button[data-file$="quiet.log"] .rate').textContent !== '0/s'`)
	if got := eval[string](t, tab, `document.querySelector('#legend button[data-file$="busy.log"] .rate').textContent`); got != "0/s" {
		t.Errorf("busy.log, idle since the page opened, says %s", got)
	}
	if eval[string](t, tab, `document.body.dataset.newLines`) != "20" {
		t.Errorf("%s new lines, want 20", eval[string](t, tab, `document.body.dataset.newLines`))
	}
}

// rises says whether the chart's line (an SVG path in a 24 px high box)
// leaves its base line.
func rises(d string) bool {
	for _, pt := range regexp.MustCompile(`[ML][\d.]+ ([\d.]+)`).FindAllStringSubmatch(d, -1) {
		if y, _ := strconv.ParseFloat(pt[1], 64); y < 22 {
			return true
		}
	}
	return false
}

// TestViewerHelp: '?' opens the list of keyboard shortcuts, Escape (or '?'
// again, or its button) closes it.
func TestViewerHelp(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "x\n")
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(td.page(p, "")))
	until(t, tab, "the page", lastLineJS+` === 'x'`)
	shown := `document.getElementById('help').getClientRects().length > 0`
	if eval[bool](t, tab, shown) {
		t.Fatal("the help shows before it is asked for")
	}
	do(t, tab, chromedp.KeyEvent("?"))
	until(t, tab, "the help", shown)
	keys := eval[string](t, tab, `Array.from(document.querySelectorAll('#help kbd'), k => k.textContent).join(' ')`)
	for _, k := range []string{"?", "p", "/", "l", "r", "t", "w", "End", "Home"} {
		if !strings.Contains(" "+keys+" ", " "+k+" ") {
			t.Errorf("the help does not list %q: %s", k, keys)
		}
	}
	if id := eval[string](t, tab, `document.activeElement.id`); id != "help-close" {
		t.Errorf("focus on %q, want the help's close button", id)
	}
	do(t, tab, chromedp.KeyEvent(kb.Escape))
	until(t, tab, "the help closed", `document.getElementById('help').hidden`)
	do(t, tab, chromedp.Click(chromedp.ID("help-button")))
	until(t, tab, "the help by its button", `!document.getElementById('help').hidden`)
	do(t, tab, chromedp.KeyEvent("?"))
	until(t, tab, "the help closed by ?", `document.getElementById('help').hidden`)
}
