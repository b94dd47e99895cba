package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The viewer's filter marks the matched text, not the whole line, also when
// the match runs across colour spans; in regex mode it goes to the daemon as
// grep=, which the page's URL keeps, and only matching lines come.
func TestWebViewerFilter(t *testing.T) {
	td := startDaemon(t)
	browser := newBrowser(t)

	t.Run("marks the matched text", func(t *testing.T) {
		p := td.write("mark.log", "alpha one\nbeta two\n\x1b[31mER\x1b[1mROR\x1b[0m: <alpha> again\n")
		tab := newTab(t, browser)
		do(t, tab, chromedp.Navigate(td.page(p, "")))
		until(t, tab, "the lines", `document.querySelectorAll('#log .line').length === 3`)
		do(t, tab, chromedp.Click(chromedp.ID("filter")), chromedp.KeyEvent("alpha"))
		until(t, tab, "two marks", `document.querySelectorAll('#log mark').length === 2`)
		if got := eval[string](t, tab, `Array.from(document.querySelectorAll('#log mark')).map(m => m.textContent).join('|')`); got != "alpha|alpha" {
			t.Errorf("marked %q, want alpha|alpha", got)
		}
		// the line's text is unchanged by its marks, and nothing is made of it
		if got := eval[string](t, tab, `document.querySelectorAll('#log .line')[2].textContent`); got != "ERROR: <alpha> again" {
			t.Errorf("the marked line reads %q", got)
		}
		eval[string](t, tab, `document.getElementById('filter').value = ''`)
		do(t, tab, chromedp.KeyEvent("error"))
		until(t, tab, "a mark across the colour spans", `Array.from(document.querySelectorAll('#log mark')).map(m => m.textContent).join('') === 'ERROR'`)
		if n := eval[int](t, tab, `document.querySelectorAll('#log .line.hit').length`); n != 1 {
			t.Errorf("%d lines hit, want 1", n)
		}
	})

	t.Run("regex mode filters in the daemon", func(t *testing.T) {
		p := td.write("grep.log", "INFO start\nERROR one\nINFO two\nerror three\n")
		tab := newTab(t, browser)
		do(t, tab, chromedp.Navigate(td.page(p, "grep=%28%3Fi%29error")))
		until(t, tab, "the matching lines", `document.querySelectorAll('#log .line').length === 2`)
		equalLines(t, shownLines(t, tab), []string{"ERROR one", "error three"})
		if !eval[bool](t, tab, `document.getElementById('regex').checked && document.getElementById('filter').value === '(?i)error'`) {
			t.Error("the filter box does not show the URL's grep in regex mode")
		}
		td.write("grep.log", "INFO four\nERROR five\n")
		until(t, tab, "the new match", lastLineJS+` === 'ERROR five'`)
		if got := shownLines(t, tab); len(got) != 3 {
			t.Errorf("shown %q: a non-matching line came", got)
		}
		// turning regex off keeps the lines and follows unfiltered from there
		do(t, tab, chromedp.Click(chromedp.ID("regex")))
		until(t, tab, "the URL without grep", `location.search.indexOf('grep=') < 0`)
		td.write("grep.log", "INFO six\n")
		until(t, tab, "an unfiltered line", lastLineJS+` === 'INFO six'`)
		equalLines(t, shownLines(t, tab), []string{"ERROR one", "error three", "ERROR five", "INFO six"})
		// and on again: the URL keeps the expression for a shared link
		do(t, tab, chromedp.Click(chromedp.ID("regex")))
		until(t, tab, "the URL with grep", `new URLSearchParams(location.search).get('grep') === '(?i)error'`)
	})

	t.Run("a bad expression in the page's URL", func(t *testing.T) {
		p := td.write("bad.log", "x\n")
		resp, body := get(t, td.page(p, "grep=%28"), "Accept", "text/html")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "missing closing )") {
			t.Errorf("%d %q, want 400 with the parser's message", resp.StatusCode, body)
		}
	})

	t.Run("download link", func(t *testing.T) {
		p := td.write("dl.log", "to download\n")
		tab := newTab(t, browser)
		do(t, tab, chromedp.Navigate(td.page(p, "")))
		until(t, tab, "the line", lastLineJS+` === 'to download'`)
		if href := eval[string](t, tab, `document.getElementById('download').getAttribute('href')`); href != p+"?download=1" {
			t.Errorf("download link %q", href)
		}
	})
}
