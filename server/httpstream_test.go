package server

// The plain-HTTP forms of a file's URL against the real daemon: Server-Sent
// Events (parsed here as EventSource does), the chunked text, ndjson, their
// refusals, limits and ends.

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wire"
)

// browserAccept is what a browser sends when it opens a page.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

func TestFormOf(t *testing.T) {
	tests := []struct {
		query, accept string
		ws            bool
		want          httpForm
	}{
		{"", "", true, formWebSocket},
		{"format=text", "", true, formWebSocket},
		{"", "", false, formPage},
		{"", browserAccept, false, formPage},
		{"", "*/*", false, formPage}, // curl's
		{"tail=1", "text/event-stream", false, formSSE},
		{"format=text", "text/event-stream", false, formSSE},
		{"", "text/event-stream;q=0", false, formPage},
		{"format=text", "", false, formText},
		{"format=text&tail=1", browserAccept, false, formText}, // asked for by name
		{"format=json", "", false, formNDJSON},
		{"format=html", "text/plain", false, formPage},
		{"format=xml", "", false, formPage}, // the page ignores its query
		{"", "text/plain", false, formText},
		{"", "TEXT/PLAIN", false, formText},
		{"", "text/plain, */*;q=0.1", false, formText},
		{"", "text/html;q=0.9, text/plain", false, formText},
		{"", "text/plain;q=0.5, text/html", false, formPage},
		{"", "text/plain, text/html", false, formPage}, // a tie: the page
		{"", "text/*", false, formPage},
		{"", "application/x-ndjson", false, formNDJSON},
		{"download=1", browserAccept, false, formDownload},
		{"download", "text/event-stream", false, formDownload},
		{"download=true&format=text", "", false, formDownload},
		{"download=x", "", false, formDownload}, // refused by the query's parser
		{"download=0", "", false, formPage},
		{"download=false&format=text", "", false, formText},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodGet, "http://h/var/log/app.log?"+tt.query, nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		if tt.ws {
			r.Header.Set("Upgrade", "websocket")
		}
		h := http.Header{}
		if got := formOf(h, r); got != tt.want {
			t.Errorf("?%s Accept %q (websocket %v): %v, want %v", tt.query, tt.accept, tt.ws, got, tt.want)
		}
		if vary := h.Get("Vary"); vary != "Accept" && !tt.ws {
			t.Errorf("?%s Accept %q: Vary %q, want Accept", tt.query, tt.accept, vary)
		}
	}
}

// httpClient is a client of its own for a test, its connections closed at
// the end; dial, when set, makes them.
func httpClient(t *testing.T, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	tr := &http.Transport{DialContext: dial, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get sends a request with headers (key, value, …) and returns the
// response, whose body is closed at the end of the test, or when cancel is
// called.
func (td *testDaemon) get(c *http.Client, method, path, query string, headers ...string) (*http.Response, context.CancelFunc) {
	td.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u := "http://" + td.addr + path
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		td.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		switch headers[i] {
		case "":
			continue
		case "Host":
			req.Host = headers[i+1]
			continue
		}
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		td.t.Fatalf("%s %s?%s: %v", method, path, query, err)
	}
	td.t.Cleanup(func() { cancel(); resp.Body.Close() })
	return resp, func() { cancel(); resp.Body.Close() }
}

// sseEvent is one thing an event stream says: an event as EventSource
// dispatches it, or a comment.
type sseEvent struct {
	Type    string // "message" unless the event field says otherwise
	Data    string
	ID      string // the last event ID once it is dispatched (EventSource's lastEventId)
	Comment string // a comment line, without its colon (then nothing else is set)
}

// sseReader reads an event stream by the rules of the HTML standard
// (9.2.6): an event is dispatched at its blank line only, so one cut short
// is lost with its id.
type sseReader struct {
	r      *bufio.Reader
	lastID string
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{r: bufio.NewReaderSize(r, 1<<20)} }

func (s *sseReader) next() (sseEvent, error) {
	var data []string
	typ, id, hasData := "", s.lastID, false
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line != "" {
				err = io.ErrUnexpectedEOF
			}
			return sseEvent{}, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			s.lastID = id
			if !hasData {
				typ = ""
				continue
			}
			if typ == "" {
				typ = "message"
			}
			return sseEvent{Type: typ, Data: strings.Join(data, "\n"), ID: s.lastID}, nil
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			return sseEvent{Comment: value}, nil
		case "event":
			typ = value
		case "data":
			data, hasData = append(data, value), true
		case "id":
			if !strings.Contains(value, "\x00") {
				id = value
			}
		}
	}
}

// sseLines reads events until want lines have come, checking each
// message's id against its position, and returns the lines and the events
// other than lines.
func sseLines(t *testing.T, s *sseReader, want int) (lines []string, events []wire.Message) {
	t.Helper()
	for len(lines) < want {
		ev, err := s.next()
		if err != nil {
			t.Fatalf("after %d of %d lines: %v", len(lines), want, err)
		}
		if ev.Comment != "" {
			continue
		}
		m, err := wire.Decode([]byte(ev.Data))
		if err != nil {
			t.Fatalf("data %q: %v", ev.Data, err)
		}
		if m.Pos != "" && ev.ID != m.Pos {
			t.Fatalf("event %q: id %q, want its position %q", ev.Data, ev.ID, m.Pos)
		}
		switch {
		case ev.Type == "message" && m.Event == "":
			lines = append(lines, m.Lines...)
		case ev.Type == m.Event:
			events = append(events, m)
		default:
			t.Fatalf("event type %q for %q", ev.Type, ev.Data)
		}
	}
	if len(lines) > want {
		t.Fatalf("got %d lines, want %d: %q", len(lines), want, lines)
	}
	return lines, events
}

func checkStreamHeaders(t *testing.T, resp *http.Response, contentType string) {
	t.Helper()
	h := resp.Header
	if resp.StatusCode != http.StatusOK || h.Get("Content-Type") != contentType || h.Get("Cache-Control") != "no-cache" ||
		h.Get("X-Accel-Buffering") != "no" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Vary") != "Accept" ||
		h.Get(wire.HeaderName) == "" {
		t.Fatalf("got %d %v, want 200, %s, no-cache, X-Accel-Buffering: no, nosniff, Vary: Accept, the daemon's name", resp.StatusCode, h, contentType)
	}
	if resp.ContentLength != -1 || resp.TransferEncoding == nil {
		t.Errorf("length %d, transfer encoding %v: want chunked", resp.ContentLength, resp.TransferEncoding)
	}
}

// TestSSE follows a file as Server-Sent Events: the last lines, new lines,
// a rotation as an event of its own type, ids that are the positions,
// keep-alive comments when idle, and a reconnection with Last-Event-ID
// that resumes right after the last event seen.
func TestSSE(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.HeartbeatInterval = 50 * time.Millisecond })
	c := httpClient(t, nil)
	p := td.write("app.log", numbered(1, 5))
	resp, cancel := td.get(c, "GET", p, "lines=2&tail=1", "Accept", "text/event-stream")
	checkStreamHeaders(t, resp, "text/event-stream")
	s := newSSEReader(resp.Body)
	lines, _ := sseLines(t, s, 2)
	equalLines(t, lines, []string{"line 4", "line 5"})

	td.write("app.log", numbered(6, 8))
	lines, _ = sseLines(t, s, 3)
	equalLines(t, lines, []string{"line 6", "line 7", "line 8"})

	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	td.write("app.log", "new 1\nnew 2\n")
	lines, events := sseLines(t, s, 2)
	equalLines(t, lines, []string{"new 1", "new 2"})
	if len(events) != 1 || events[0].Event != wire.EventRotated {
		t.Fatalf("events %+v, want one rotated", events)
	}

	for { // idle: comments keep the stream alive
		ev, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Comment == "keep-alive" {
			break
		}
		if ev.Comment == "" {
			t.Fatalf("idle stream sent %+v", ev)
		}
	}
	last := s.lastID
	cancel()
	testutil.WaitFor(t, "the stream to end", waitForLimit, func() bool { return td.d.streams.Load() == 0 })

	td.write("app.log", "new 3\nnew 4\n")
	resp, _ = td.get(c, "GET", p, "lines=2&tail=1", "Accept", "text/event-stream", "Last-Event-ID", last)
	s = newSSEReader(resp.Body)
	lines, _ = sseLines(t, s, 2)
	equalLines(t, lines, []string{"new 3", "new 4"})
}

// TestSSELastLines: without tail=1 the last lines (an unfinished last line
// as the partial of the last message), then the end; an EventSource that
// reconnects is told 204, which stops it. A Last-Event-ID that is not a
// position is a 400.
func TestSSELastLines(t *testing.T) {
	td := startDaemon(t)
	c := httpClient(t, nil)
	p := td.write("app.log", numbered(1, 5)+"unfinished")
	resp, _ := td.get(c, "GET", p, "lines=3", "Accept", "text/event-stream")
	checkStreamHeaders(t, resp, "text/event-stream")
	s := newSSEReader(resp.Body)
	var got []string
	var m wire.Message
	for {
		ev, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Comment != "" {
			continue
		}
		if m, err = wire.Decode([]byte(ev.Data)); err != nil || ev.ID != m.Pos {
			t.Fatalf("%+v: %v", ev, err)
		}
		got = append(got, m.Lines...)
	}
	equalLines(t, got, []string{"line 4", "line 5"})
	if m.Partial != "unfinished" {
		t.Errorf("partial %q", m.Partial)
	}
	resp, _ = td.get(c, "GET", p, "lines=3", "Accept", "text/event-stream", "Last-Event-ID", s.lastID)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("reconnection without tail=1: %d, want 204", resp.StatusCode)
	}
	resp, _ = td.get(c, "GET", p, "tail=1", "Accept", "text/event-stream", "Last-Event-ID", "nonsense")
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(string(body), "Last-Event-ID: ") {
		t.Errorf("a bad Last-Event-ID: %d %q, want 400 with a reason", resp.StatusCode, body)
	}
}

// TestHTTPPlainForms reads the last lines in each form that Accept and
// format= choose, and checks that a browser still gets the page.
func TestHTTPPlainForms(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.Name = "web-1" })
	c := httpClient(t, nil)
	p := td.write("app.log", numbered(1, 5)+"unfinished")
	const text = "line 4\nline 5\nunfinished"
	tests := []struct {
		name, query, accept, contentType, body string
	}{
		{"format=text", "format=text&lines=3", "", "text/plain; charset=utf-8", text},
		{"Accept text/plain", "lines=3", "text/plain", "text/plain; charset=utf-8", text},
		{"text/plain preferred", "lines=3", "text/html;q=0.5, text/plain", "text/plain; charset=utf-8", text},
		{"format=text from a browser", "format=text&lines=3", browserAccept, "text/plain; charset=utf-8", text},
		{"format=json", "format=json&lines=3", "", "application/x-ndjson",
			`{"lines":["line 4","line 5"],"partial":"unfinished","pos":"POS","time":"TIME","name":"web-1"}` + "\n"},
		{"Accept ndjson", "lines=3", "application/x-ndjson", "application/x-ndjson",
			`{"lines":["line 4","line 5"],"partial":"unfinished","pos":"POS","time":"TIME","name":"web-1"}` + "\n"},
		{"browser", "lines=3", browserAccept, "text/html; charset=utf-8", ""},
		{"curl", "lines=3", "*/*", "text/html; charset=utf-8", ""},
		{"format=html", "format=html&lines=3", "text/plain", "text/html; charset=utf-8", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := td.get(c, "GET", p, tt.query, "Accept", tt.accept)
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.body == "" { // the page
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tt.contentType || !strings.Contains(string(body), "<html") {
					t.Fatalf("got %d %s, want the viewer page", resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				return
			}
			checkStreamHeaders(t, resp, tt.contentType)
			got := string(body)
			if strings.HasPrefix(tt.contentType, "application/x-ndjson") {
				m, err := wire.Decode(body)
				if err != nil || strings.Count(got, "\n") != 1 {
					t.Fatalf("%q: %v, want one json message and a newline", got, err)
				}
				got = strings.Replace(got, m.Pos, "POS", 1)
				got = strings.Replace(got, `"time":"`+m.Time+`"`, `"time":"TIME"`, 1)
				got = strings.Replace(got, `,"sizes":[7,7]`, "", 1)
			}
			if got != tt.body {
				t.Errorf("got %q, want %q", got, tt.body)
			}
		})
	}
}

// TestNDJSONFollows follows a file as newline-delimited json across a
// rotation: the same messages as over WebSocket with format=json.
func TestNDJSONFollows(t *testing.T) {
	td := startDaemon(t)
	c := httpClient(t, nil)
	p := td.write("app.log", numbered(1, 3))
	resp, _ := td.get(c, "GET", p, "format=json&lines=1&tail=1&html=1")
	checkStreamHeaders(t, resp, "application/x-ndjson")
	br := bufio.NewReader(resp.Body)
	var lines, events []string
	read := func(n int) {
		t.Helper()
		for len(lines) < n {
			l, err := br.ReadBytes('\n')
			if err != nil {
				t.Fatalf("after %q: %v", lines, err)
			}
			m, err := wire.Decode(l)
			if err != nil || m.Pos == "" {
				t.Fatalf("%q: %v", l, err)
			}
			lines = append(lines, m.Lines...)
			if m.Event != "" {
				events = append(events, m.Event)
			}
		}
	}
	read(1)
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	td.write("app.log", "<b>new</b>\n")
	read(2)
	equalLines(t, lines, []string{"line 3", "&lt;b&gt;new&lt;/b&gt;"})
	if strings.Join(events, ",") != wire.EventRotated {
		t.Errorf("events %q, want rotated", events)
	}
}

// TestHTTPStreamRefusals: every form is refused like a WebSocket, with the
// status and a one-line reason before any byte of a stream.
func TestHTTPStreamRefusals(t *testing.T) {
	td := startDaemon(t)
	c := httpClient(t, nil)
	p := td.write("app.log", "x\n")
	forms := map[string][]string{
		"sse":      {"Accept", "text/event-stream"},
		"text":     {"Accept", "text/plain"},
		"ndjson":   {"Accept", "application/x-ndjson"},
		"download": nil,
	}
	query := map[string]string{"download": "download=1"}
	tests := []struct {
		name, method, path, query string
		headers                   []string
		status                    int
		reason                    string
	}{
		{"outside the roots", "GET", "/etc/passwd", "tail=1", nil, 403, "path escapes the allowed roots"},
		{"missing", "GET", td.root + "/nope.log", "tail=1", nil, 404, ""},
		{"dot dot", "GET", td.root + "/%2e%2e/x", "", nil, 400, ""},
		{"bad lines", "GET", p, "lines=abc", nil, 400, "lines="},
		{"from without tail", "GET", p, "from=1:2:3", nil, 400, "tail=1"},
		{"foreign origin", "GET", p, "tail=1", []string{"Origin", "http://evil.example"}, 403, "origin not allowed"},
		{"POST", "POST", p, "tail=1", nil, 405, ""},
		{"unknown Host", "GET", p, "tail=1", []string{"Host", "rebind.evil.example"}, 421, ""},
		{"grep", "GET", p, "tail=1&grep=(", nil, 400, "grep"},
	}
	for form, fh := range forms {
		for _, tt := range tests {
			if form == "download" && tt.name == "grep" { // a download is the whole file
				continue
			}
			t.Run(form+"/"+tt.name, func(t *testing.T) {
				q := tt.query
				if extra := query[form]; extra != "" {
					q = strings.TrimPrefix(q+"&"+extra, "&")
				}
				resp, _ := td.get(c, tt.method, tt.path, q, append(append([]string{}, fh...), tt.headers...)...)
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") ||
					strings.Count(string(body), "\n") != 1 || !strings.Contains(string(body), tt.reason) {
					t.Errorf("got %d %s %q, want %d and a reason (%q)", resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status, tt.reason)
				}
			})
		}
	}
	testutil.WaitFor(t, "no stream left", waitForLimit, func() bool { return td.d.streams.Load() == 0 && td.d.hub.Followers() == 0 })
	resp, _ := td.get(c, "GET", "/metrics", "")
	metrics, _ := io.ReadAll(resp.Body)
	for _, status := range []string{"400", "403", "404", "405"} {
		if !strings.Contains(string(metrics), `logtaild_handshakes_refused_total{status="`+status+`"}`) {
			t.Errorf("refusals with %s not counted", status)
		}
	}
}

// TestHTTPStreamToken: a token is asked of the plain-HTTP forms too; an
// EventSource, which sends no header of its own, gives it as ?token=.
func TestHTTPStreamToken(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.Token = "s3cret" })
	c := httpClient(t, nil)
	p := td.write("app.log", "x\n")
	resp, _ := td.get(c, "GET", p, "format=text")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %d", resp.StatusCode)
	}
	resp, _ = td.get(c, "GET", p, "format=text&token=s3cret")
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "x\n" {
		t.Errorf("with ?token=: %d %q", resp.StatusCode, body)
	}
	resp, _ = td.get(c, "GET", p, "lines=1", "Accept", "text/event-stream", "Authorization", "Bearer s3cret")
	if resp.StatusCode != 200 {
		t.Errorf("with the header: %d", resp.StatusCode)
	}
}

// TestHTTPStreamsCount: --max-streams counts plain-HTTP streams with the
// WebSockets; a stream's slot is free again once its client leaves.
func TestHTTPStreamsCount(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.MaxStreams = 2 })
	c := httpClient(t, nil)
	p := td.write("app.log", "x\n")
	sse, cancel := td.get(c, "GET", p, "lines=1&tail=1", "Accept", "text/event-stream")
	sseLines(t, newSSEReader(sse.Body), 1)
	text, _ := td.get(c, "GET", p, "format=text&lines=1&tail=1")
	if l, err := bufio.NewReader(text.Body).ReadString('\n'); err != nil || l != "x\n" {
		t.Fatalf("text stream: %q, %v", l, err)
	}
	for _, h := range [][]string{{"Accept", "text/event-stream"}, {"Accept", "text/plain"}} {
		resp, _ := td.get(c, "GET", p, "tail=1", h...)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "--max-streams 2") {
			t.Errorf("a third stream (%s): %d %q, want 503 with Retry-After", h[1], resp.StatusCode, body)
		}
	}
	if status := testutil.DialStatus(t, td.url(p, "tail=1"), nil); status != 503 {
		t.Errorf("a WebSocket as third stream: %d, want 503", status)
	}
	cancel()
	testutil.WaitFor(t, "the SSE stream's slot", waitForLimit, func() bool { return td.d.streams.Load() == 1 })
	resp, _ := td.get(c, "GET", p, "lines=1", "Accept", "text/event-stream")
	if resp.StatusCode != 200 {
		t.Errorf("after the client left: %d", resp.StatusCode)
	}
}

// TestHTTPStreamEndsOnShutdown: when the daemon stops, each plain-HTTP
// stream gets the lines written before the stop, then ends cleanly (the
// last chunk, not a cut connection); an event stream says why.
func TestHTTPStreamEndsOnShutdown(t *testing.T) {
	td := startDaemon(t)
	c := httpClient(t, nil)
	p := td.write("app.log", "first\n")
	sse, _ := td.get(c, "GET", p, "lines=1&tail=1", "Accept", "text/event-stream")
	s := newSSEReader(sse.Body)
	sseLines(t, s, 1)
	text, _ := td.get(c, "GET", p, "format=text&lines=1&tail=1")
	tr := bufio.NewReader(text.Body)
	if l, err := tr.ReadString('\n'); err != nil || l != "first\n" {
		t.Fatalf("text stream: %q, %v", l, err)
	}
	td.write("app.log", "last\n")
	td.stop()
	lines, _ := sseLines(t, s, 1)
	equalLines(t, lines, []string{"last"})
	var comments []string
	for {
		ev, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil || ev.Comment == "" {
			t.Fatalf("after the last line: %+v, %v, want comments then the end", ev, err)
		}
		comments = append(comments, ev.Comment)
	}
	if len(comments) == 0 || comments[len(comments)-1] != "daemon shutting down" {
		t.Errorf("comments %q, want the last to say the daemon is shutting down", comments)
	}
	rest, err := io.ReadAll(tr)
	if err != nil || string(rest) != "last\n" {
		t.Errorf("text stream after the stop: %q, %v, want the last line and a clean end", rest, err)
	}
	if err := <-td.done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	td.done <- nil
}

// TestHTTPStreamClientLeaves: a client that goes away ends its stream at
// once, releasing its slot and the follower; once every stream and
// download is over, no goroutine or descriptor is left.
func TestHTTPStreamClientLeaves(t *testing.T) {
	td := startDaemon(t)
	c := httpClient(t, nil)
	p := td.write("app.log", "x\n")
	var g0, fd0 int
	for i, h := range [][]string{{"Accept", "text/event-stream"}, {"Accept", "text/plain"}, {"Accept", "application/x-ndjson"}} {
		resp, cancel := td.get(c, "GET", p, "lines=1&tail=1", h...)
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, "the stream to be counted", waitForLimit, func() bool { return td.d.streams.Load() == 1 })
		cancel()
		testutil.WaitFor(t, "the stream to end ("+h[1]+")", waitForLimit, func() bool {
			return td.d.streams.Load() == 0 && td.d.hub.Followers() == 0
		})
		if i == 0 { // the daemon's own descriptors (inotify, watches) are made by now
			g0, fd0 = runtime.NumGoroutine(), openFDs(t)
		}
	}
	for _, q := range []string{"download=1", "format=text", "download=1&x=/..", "format=text&lines=x"} {
		resp, _ := td.get(c, "GET", p, q)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	c.CloseIdleConnections()
	backToBaseline(t, g0, fd0)
}

// TestSSESlowClient: an event stream whose client stops reading is ended
// when its queue is full, as a WebSocket is closed with 1013; the client
// reads what it was sent, reconnects with Last-Event-ID and gets the rest,
// none lost or repeated.
func TestSSESlowClient(t *testing.T) {
	const total = 4000
	pad := strings.Repeat("x", 1000)
	seen := make(chan struct{})
	td := startDaemon(t, func(c *Config) {
		c.ClientQueueBytes = 256 << 10
		c.Logger = slog.New(signalHandler{Handler: c.Logger.Handler(), msg: "subscriber too slow; dropping it", once: new(sync.Once), seen: seen})
	})
	p := td.write("app.log", "")
	c := httpClient(t, smallBuffer.DialContext)
	resp, _ := td.get(c, "GET", p, "lines=0&tail=1", "Accept", "text/event-stream")
	s := newSSEReader(resp.Body)
	if ev, err := s.next(); err != nil || ev.ID == "" {
		t.Fatalf("first event %+v, %v: want the position", ev, err)
	}
	appendSeq(t, p, total, pad)
	select {
	case <-seen:
	case <-time.After(30 * time.Second):
		t.Fatal("the stalled client was never dropped")
	}
	var seqs []int
	ends := 0
	for len(seqs) < total {
		ev, err := s.next()
		switch {
		case err == io.EOF:
			ends++
			resp, _ = td.get(c, "GET", p, "lines=0&tail=1", "Accept", "text/event-stream", "Last-Event-ID", s.lastID)
			last := s.lastID
			s = newSSEReader(resp.Body)
			s.lastID = last
			continue
		case err != nil:
			t.Fatalf("after %d lines: %v", len(seqs), err)
		case ev.Comment != "":
			continue
		}
		m, err := wire.Decode([]byte(ev.Data))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range m.Lines {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			seqs = append(seqs, n)
		}
	}
	for i, n := range seqs {
		if n != i+1 {
			t.Fatalf("line %d is seq %d (lost or repeated)", i+1, n)
		}
	}
	if ends == 0 {
		t.Error("the stalled stream never ended")
	}
	t.Logf("ended %d time(s), then resumed: %d lines, none lost or repeated", ends, len(seqs))
}

// TestHTTPStreamThenWebSocket: the plain-HTTP forms and the WebSocket share
// one follower and its batches (their json forms are made once).
func TestHTTPStreamThenWebSocket(t *testing.T) {
	td := startDaemon(t)
	c := httpClient(t, nil)
	p := td.write("app.log", "")
	resp, _ := td.get(c, "GET", p, "lines=0&tail=1", "Accept", "text/event-stream")
	s := newSSEReader(resp.Body)
	sseLines(t, s, 0)
	ws := td.dial(p, "lines=0&tail=1&format=json")
	if _, err := readJSON(t, ws); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "one follower, two streams", waitForLimit, func() bool {
		return td.d.hub.Followers() == 1 && td.d.streams.Load() == 2
	})
	td.write("app.log", "shared \"quoted\"\n")
	lines, _ := sseLines(t, s, 1)
	m, err := readJSON(t, ws)
	if err != nil || len(m.Lines) != 1 || m.Lines[0] != lines[0] || lines[0] != `shared "quoted"` {
		t.Fatalf("SSE %q, WebSocket %+v, %v", lines, m, err)
	}
	ws.Close()
}
