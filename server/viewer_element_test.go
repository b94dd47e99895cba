package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

// hostPage serves a page of another site that embeds the <logtail-log>
// element in one line, with hostile styles of its own. Its script and
// element are set once the daemon's address is known.
type hostPage struct {
	*httptest.Server
	body atomic.Value // string
}

// onLocalhost is the page's URL by the name localhost: another site than
// the daemon's 127.0.0.1, as a real host page is (cookies are by site, and
// the daemon's token cookie would otherwise go with the element's socket).
func (h *hostPage) onLocalhost() string {
	return strings.Replace(h.URL, "127.0.0.1", "localhost", 1)
}

func newHostPage(t *testing.T) *hostPage {
	t.Helper()
	h := &hostPage{}
	h.body.Store("")
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, h.body.Load().(string))
	}))
	t.Cleanup(h.Close)
	return h
}

// embed sets the page: head is put in its head (a meta tag), script is the
// element's script URL, elements the elements.
func (h *hostPage) embed(head, script, elements string) {
	h.body.Store(`<!doctype html>
<html><head><meta charset="utf-8"><title>a host page</title>` + head + `
<style>
  body { font: 30px serif; color: rgb(255, 0, 0); }
  .line, .log { display: none; }
  span { color: rgb(0, 0, 255) !important; }
</style>
</head><body>
<h1 class="line" id="host-line">the host's own .line</h1>
<p class="log" id="host-log">the host's own .log</p>
<script type="module" src="` + script + `"></script>
` + elements + `
</body></html>`)
}

// shadowJS is an expression over the element el's shadow root, r (null
// until the element's script has defined it).
func shadowJS(el, expr string) string {
	return `(() => { const r = document.getElementById('` + el + `').shadowRoot; return r && ` + expr + ` })()`
}

// elementLines is the text of el's lines, [] until it is defined.
func elementLines(el string) string {
	return `(` + shadowJS(el, `Array.from(r.querySelectorAll('.line:not(.event)'), e => e.textContent)`) + ` || [])`
}

// TestViewerElement: <logtail-log> in a page of another origin that the
// daemon allows: the live coloured log with its filter, styles that neither
// leak out nor are broken by the page's, and a resume across a restart of
// the daemon that loses and repeats nothing. From an origin not allowed it
// says it is refused, and by which flag it would not be.
func TestViewerElement(t *testing.T) {
	allowed, other := newHostPage(t), newHostPage(t)
	td := startDaemon(t, func(c *Config) { c.AllowOrigins = []string{allowed.URL} })
	p := td.write("app.log", "INFO start\n\x1b[31mERROR\x1b[0m disk full\nINFO fine\nERROR <b>again</b>\n")
	script := "http://" + td.addr + "/_logtail/logtail-log.js"
	element := `<logtail-log id="log" src="` + p + `" lines="200" grep="ERROR"></logtail-log>`
	allowed.embed("", script, element)
	other.embed("", script, element)
	browser := newBrowser(t)

	tab := newTab(t, browser)
	do(t, tab, chromedp.Navigate(allowed.URL))
	until(t, tab, "the matching lines", elementLines("log")+`.length === 2`)
	equalLines(t, eval[[]string](t, tab, elementLines("log")), []string{"ERROR disk full", "ERROR <b>again</b>"})
	until(t, tab, "connected", `document.getElementById('log').dataset.state === 'connected'`)

	type style struct{ Display, Color, Font, Size string }
	red := eval[style](t, tab, shadowJS("log", `(s => ({Display: s.display, Color: s.color, Font: s.fontFamily, Size: s.fontSize}))(getComputedStyle(r.querySelector('.line span.term-fg31')))`))
	line := eval[style](t, tab, shadowJS("log", `(s => ({Display: s.display, Color: s.color, Font: s.fontFamily, Size: s.fontSize}))(getComputedStyle(r.querySelector('.line')))`))
	if line.Display == "none" || line.Size != "13px" || !strings.Contains(line.Font, "monospace") {
		t.Errorf("the page's styles reach the element's lines: %+v", line)
	}
	if red.Color == "rgb(0, 0, 255)" || red.Color == line.Color {
		t.Errorf("the red span is %s (a line %s): the page's span style, or no colour", red.Color, line.Color)
	}
	hostLine := eval[style](t, tab, `(s => ({Display: s.display, Color: s.color, Font: s.fontFamily, Size: s.fontSize}))(getComputedStyle(document.getElementById('host-line')))`)
	if hostLine.Display != "none" || hostLine.Font != "serif" || eval[string](t, tab, `getComputedStyle(document.getElementById('host-line')).paddingLeft`) != "0px" {
		t.Errorf("the element's styles leak into the page: %+v", hostLine)
	}
	if n := eval[int](t, tab, shadowJS("log", `r.querySelectorAll('b').length`)+` + document.querySelectorAll('b').length`); n != 0 {
		t.Errorf("%d elements made from log text", n)
	}

	// the daemon restarts: the element resumes where it was
	td.shutdown()
	until(t, tab, "reconnecting", `document.getElementById('log').dataset.state !== 'connected'`)
	td.write("app.log", "ERROR while away\nINFO skipped\n")
	td = restartWeb(t, td)
	until(t, tab, "the line written meanwhile", elementLines("log")+`.length === 3`)
	until(t, tab, "connected again", `document.getElementById('log').dataset.state === 'connected'`)
	td.write("app.log", "ERROR after\n")
	until(t, tab, "a line after", elementLines("log")+`.length === 4`)
	equalLines(t, eval[[]string](t, tab, elementLines("log")), []string{"ERROR disk full", "ERROR <b>again</b>", "ERROR while away", "ERROR after"})

	// a page of an origin the daemon does not allow
	tab2 := newTab(t, browser)
	do(t, tab2, chromedp.Navigate(other.URL))
	until(t, tab2, "the refusal", `document.getElementById('log').dataset.state === 'refused'`)
	msg := eval[string](t, tab2, shadowJS("log", `r.querySelector('.message').textContent`))
	for _, want := range []string{"refused", "does not allow", other.URL, "--allow-origin " + other.URL} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal says %q: want %q in it", msg, want)
		}
	}
	if n := eval[int](t, tab2, shadowJS("log", `r.querySelectorAll('.line').length`)); n != 0 {
		t.Errorf("%d lines in a refused element", n)
	}
	if c := eval[string](t, tab2, shadowJS("log", `getComputedStyle(r.querySelector('.message')).color`)); c == eval[string](t, tab2, shadowJS("log", `getComputedStyle(r.querySelector('.name')).color`)) {
		t.Errorf("the refusal is not set apart: %s", c)
	}
}

// TestViewerElementToken: with --token, the element takes it from its token
// attribute or from the page's <meta name="logtail-token">, and says so
// when it is wrong. Its script is loaded with the token in its URL (a
// daemon with a token asks it for its scripts too). The page is of another
// site (localhost), as a real host page is.
func TestViewerElementToken(t *testing.T) {
	host := newHostPage(t)
	const token = "s3cret-token"
	td := startDaemon(t, func(c *Config) {
		c.AllowOrigins = []string{host.onLocalhost()}
		c.Token = token
	})
	p := td.write("app.log", "one\ntwo\n")
	script := "http://" + td.addr + "/_logtail/logtail-log.js?token=" + token
	host.embed(`<meta name="logtail-token" content="`+token+`">`, script,
		`<logtail-log id="attr" src="`+p+`" token="`+token+`"></logtail-log>
<logtail-log id="meta" src="`+p+`"></logtail-log>
<logtail-log id="wrong" src="`+p+`" token="not-it"></logtail-log>`)
	tab := newTab(t, newBrowser(t))
	do(t, tab, chromedp.Navigate(host.onLocalhost()))
	for _, el := range []string{"attr", "meta"} {
		until(t, tab, el+"'s lines", elementLines(el)+`.length === 2`)
	}
	until(t, tab, "the wrong token refused", `document.getElementById('wrong').dataset.state === 'refused'`)
	if msg := eval[string](t, tab, shadowJS("wrong", `r.querySelector('.message').textContent`)); !strings.Contains(msg, "token") {
		t.Errorf("the wrong token's element says %q", msg)
	}
}
