package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// nextMessage reads one json message from c.
func nextMessage(t *testing.T, c *wsconn.Client) (wire.Message, error) {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	data, err := c.Next()
	if err != nil {
		return wire.Message{}, err
	}
	m, err := wire.Decode(data)
	if err != nil {
		t.Fatalf("not a message: %q: %v", data, err)
	}
	return m, nil
}

// messagesUntil reads json messages from c until it has n lines (not
// counting a partial one), or to the stream's end when n < 0.
func messagesUntil(t *testing.T, c *wsconn.Client, n int) []wire.Message {
	t.Helper()
	var msgs []wire.Message
	lines := 0
	for n < 0 || lines < n {
		m, err := nextMessage(t, c)
		if err != nil {
			if n < 0 && wsconn.IsClose(err, wsconn.CodeNormal) {
				break
			}
			t.Fatalf("after %d of %d lines: %v", lines, n, err)
		}
		msgs = append(msgs, m)
		lines += len(m.Lines)
	}
	return msgs
}

// The daemon's name is in the handshake's answer and on the first json
// message of each connection, whatever the stream: followed or not,
// compressed or not, filtered, a page, a stream of many files, a resume.
func TestNameInHandshakeAndFirstMessage(t *testing.T) {
	const name = "web-1 · eu" // printable, not ASCII: carried as it is
	td := startDaemon(t, func(c *Config) { c.Name = name })
	p := td.write("app.log", numbered(1, 5))
	td.write("other.log", numbered(1, 2))
	first := td.dial(p, "format=json&lines=0&tail=1")
	m, err := nextMessage(t, first)
	if err != nil {
		t.Fatal(err)
	}
	pos := m.Pos // at the file's end
	tests := []struct {
		name, path, query string
		deflate           bool
		lines             int // to read before writing one more (-1: the stream ends)
	}{
		{"followed", p, "format=json&lines=2&tail=1", false, 2},
		{"followed, compressed", p, "format=json&lines=2&tail=1", true, 2},
		{"followed, html", p, "format=json&html=1&lines=2&tail=1", true, 2},
		{"followed, filtered", p, "format=json&lines=2&tail=1&grep=line", false, 2},
		{"followed, no lines", p, "format=json&lines=0&tail=1", true, 0},
		{"resumed", p, "format=json&tail=1&from=" + pos, true, 0},
		{"last lines", p, "format=json&lines=3", false, -1},
		{"last lines, compressed", p, "format=json&lines=3", true, -1},
		{"last lines, filtered", p, "format=json&lines=3&exclude=4", true, -1},
		{"a page", p, "format=json&lines=2&before=" + pos, true, -1},
		{"many files", filepath.Dir(p) + "/*.log", "format=json&lines=1&tail=1", false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := td.dial(tt.path, tt.query, wsconn.DialOptions{Deflate: tt.deflate})
			if got := c.Header().Get(wire.HeaderName); got != name {
				t.Errorf("the handshake's %s: %q, want %q", wire.HeaderName, got, name)
			}
			msgs := messagesUntil(t, c, tt.lines)
			more := 0
			if tt.lines >= 0 { // followed: two more lines, the second in a message after the first
				more = 2
			}
			for i := range more {
				line := fmt.Sprintf("line: %d more for %s", i+1, tt.name)
				td.write("app.log", line+"\n")
				for len(msgs) == 0 || !slices.Contains(msgs[len(msgs)-1].Lines, line) {
					m, err := nextMessage(t, c)
					if err != nil {
						t.Fatalf("waiting for %q: %v (got %+v)", line, err, msgs)
					}
					msgs = append(msgs, m)
				}
			}
			if len(msgs) == 0 {
				t.Fatal("no message")
			}
			for i, m := range msgs {
				if want := map[bool]string{true: name}[i == 0]; m.Name != want {
					t.Errorf("message %d of %d: name %q, want %q: %+v", i, len(msgs), m.Name, want, m)
				}
			}
		})
	}
}

// Over plain HTTP, each stream form carries the name in its headers, and
// ndjson and Server-Sent Events on their first message.
func TestNameOverPlainHTTP(t *testing.T) {
	const name = "web-2"
	td := startDaemon(t, func(c *Config) { c.Name = name })
	c := httpClient(t, nil)
	p := td.write("app.log", numbered(1, 5))
	for _, tt := range []struct {
		name, query string
		headers     []string
		json        bool
	}{
		{"ndjson", "format=json&lines=3", nil, true},
		{"sse", "lines=3", []string{"Accept", "text/event-stream"}, true},
		{"text", "format=text&lines=3", nil, false},
		{"gzip", "format=json&lines=3", []string{"Accept-Encoding", "gzip"}, false},
		{"download", "download=1", nil, false},
		{"a page of text", "format=text&lines=3&before=" + firstPosOf(t, td, p), nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := td.get(c, "GET", p, tt.query, tt.headers...)
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %v", resp.StatusCode, err)
			}
			if got := resp.Header.Get(wire.HeaderName); got != name {
				t.Errorf("%s: %q, want %q", wire.HeaderName, got, name)
			}
			if !tt.json {
				return
			}
			var msgs []string // ndjson: a message a line; an event stream: its data lines
			for line := range strings.Lines(string(body)) {
				line = strings.TrimSuffix(line, "\n")
				if data, ok := strings.CutPrefix(line, "data: "); ok {
					msgs = append(msgs, data)
				} else if tt.name == "ndjson" {
					msgs = append(msgs, line)
				}
			}
			for i, msg := range msgs {
				m, err := wire.Decode([]byte(msg))
				if want := map[bool]string{true: name}[i == 0]; err != nil || m.Name != want {
					t.Errorf("message %d %q (%v): want the name %q", i, msg, err, want)
				}
			}
			if len(msgs) == 0 {
				t.Errorf("no message in %q", body)
			}
		})
	}
}

// firstPosOf is the position at the end of p, from a json stream.
func firstPosOf(t *testing.T, td *testDaemon, p string) string {
	t.Helper()
	c := td.dial(p, "format=json&lines=0&tail=1")
	m, err := nextMessage(t, c)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	return m.Pos
}

// Refusals after the token check name the daemon too; a request without
// the token learns nothing, its name neither.
func TestNameOnRefusals(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.Name = "web-3"; c.Token = "s3cret" })
	auth := http.Header{"Authorization": {"Bearer s3cret"}}
	for _, tt := range []struct {
		path   string
		header http.Header
		status int
		name   string
	}{
		{td.root + "/missing.log", auth, http.StatusNotFound, "web-3"},
		{"/etc/passwd", auth, http.StatusForbidden, "web-3"},
		{td.root + "/missing.log", nil, http.StatusUnauthorized, ""},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := wsconn.Dial(ctx, td.url(tt.path, "format=json"), wsconn.DialOptions{Header: tt.header})
		cancel()
		var he *wsconn.HandshakeError
		if !errors.As(err, &he) || he.Status != tt.status {
			t.Fatalf("%s: %v, want a refusal with %d", tt.path, err, tt.status)
		}
		if got := he.Header.Get(wire.HeaderName); got != tt.name {
			t.Errorf("%s, %d: %s %q, want %q", tt.path, tt.status, wire.HeaderName, got, tt.name)
		}
	}
}

// Without --name the daemon is named by its host name: a pod's name in
// Kubernetes.
func TestNameDefaultsToHostName(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	td := startDaemon(t)
	p := td.write("app.log", "a\n")
	c := td.dial(p, "format=json&lines=1")
	if got := c.Header().Get(wire.HeaderName); got != host {
		t.Errorf("%s: %q, want the host name %q", wire.HeaderName, got, host)
	}
	if m, err := nextMessage(t, c); err != nil || m.Name != host {
		t.Errorf("first message %+v (%v): want the name %q", m, err, host)
	}
}

// A name a client could not show as it is stops the daemon at start.
func TestBadName(t *testing.T) {
	for _, name := range []string{"a\x1b]52;c;x\x07", "tab\there", "new\nline", "bidi\u202eevil", "\xff\xfe", strings.Repeat("n", 254)} {
		_, err := New(Config{Name: name, Roots: []string{t.TempDir()}})
		if err == nil || !strings.HasPrefix(err.Error(), "--name: ") {
			t.Errorf("%q: %v, want a --name error", name, err)
		}
	}
	d, err := New(Config{Name: strings.Repeat("n", 253), Roots: []string{t.TempDir()}})
	if err != nil {
		t.Fatalf("253 bytes: %v", err)
	}
	d.Close()
}

// checkTimes checks the messages' times: on every message of lines (or a
// partial line) and on no other; parseable; never less than the one before
// (from *prev on); within [from, to]. It returns the last.
func checkTimes(t *testing.T, msgs []wire.Message, prev time.Time, from, to time.Time) time.Time {
	t.Helper()
	for _, m := range msgs {
		tm, ok := m.ReadTime()
		if len(m.Lines) == 0 && m.Partial == "" {
			if m.Time != "" {
				t.Errorf("a message without lines has a time: %+v", m)
			}
			continue
		}
		switch {
		case !ok:
			t.Fatalf("a message of lines without a time that parses: %+v", m)
		case len(m.Time) != wire.TimeLen || !strings.HasSuffix(m.Time, "Z"):
			t.Errorf("time %q: want %s in UTC", m.Time, wire.TimeLayout)
		case tm.Before(prev):
			t.Errorf("time %s, before the message before's %s", m.Time, prev.Format(time.RFC3339Nano))
		case tm.Before(from) || tm.After(to):
			t.Errorf("time %s, not within [%s, %s], when the lines were written and read", m.Time,
				from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
		}
		prev = tm
	}
	return prev
}

// Every json message of lines says when the daemon read them: the last
// lines as they are read, each followed batch as the follower reads it;
// never less than the message before, within [written, received].
func TestTimeOfLines(t *testing.T) {
	td := startDaemon(t)
	for _, deflate := range []bool{false, true} {
		t.Run("deflate="+strconv.FormatBool(deflate), func(t *testing.T) {
			name := "app-" + strconv.FormatBool(deflate) + ".log"
			p := td.write(name, numbered(1, 100))
			opt := wsconn.DialOptions{Deflate: deflate}

			before := time.Now()
			c := td.dial(p, "format=json&lines=50&tail=1", opt)
			msgs := messagesUntil(t, c, 50)
			prev := checkTimes(t, msgs, time.Time{}, before, time.Now())
			for i, next := 0, 101; i < 30; i++ { // batches of one line and of many
				written := time.Now()
				td.write(name, numbered(next, next+7*i))
				msgs = messagesUntil(t, c, 7*i+1)
				prev = checkTimes(t, msgs, prev, written, time.Now())
				next += 7*i + 1
			}

			before = time.Now()
			msgs = messagesUntil(t, td.dial(p, "format=json&lines=1000", opt), -1)
			checkTimes(t, msgs, time.Time{}, before, time.Now())

			td.write(name, "unfinished")
			before = time.Now()
			msgs = messagesUntil(t, td.dial(p, "format=json&lines=1", opt), -1)
			if len(msgs) != 1 || msgs[0].Partial != "unfinished" {
				t.Fatalf("the unfinished line alone: %+v", msgs)
			}
			checkTimes(t, msgs, time.Time{}, before, time.Now())
		})
	}
}

// A batch is stamped once, for every client: its json (compressed once for
// all the clients that negotiated permessage-deflate) is made once.
func TestTimeOfABatchIsShared(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "")
	var clients []*wsconn.Client
	for _, tt := range []struct {
		query   string
		deflate bool
	}{{"format=json", true}, {"format=json", true}, {"format=json", false}, {"format=json&html=1", true}, {"format=json&grep=x", false}} {
		c := td.dial(p, tt.query+"&lines=0&tail=1", wsconn.DialOptions{Deflate: tt.deflate})
		if m, err := nextMessage(t, c); err != nil || len(m.Lines) != 0 {
			t.Fatalf("first message %+v (%v), want where the stream stands", m, err)
		}
		clients = append(clients, c)
	}
	for i := range 3 {
		td.write("app.log", strings.Repeat("x", 100*i+1)+"\n")
		var times []string
		for _, c := range clients {
			msgs := messagesUntil(t, c, 1)
			times = append(times, msgs[len(msgs)-1].Time)
		}
		for _, tm := range times[1:] {
			if tm != times[0] || tm == "" {
				t.Fatalf("batch %d: times %q, want one for every client", i, times)
			}
		}
	}
}

// lines= above --max-lines is answered with the cap applied, in
// Logtail-Max-Lines; within it, or not asked, no such header.
func TestMaxLinesHeader(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.MaxLines = 5 })
	p := td.write("app.log", numbered(1, 20))
	hc := httpClient(t, nil)
	for _, tt := range []struct {
		query string
		want  string // the header; "" absent
		lines int
	}{
		{"lines=6", "5", 5},
		{"lines=100000", "5", 5},
		{"lines=6&tail=1", "5", 5},
		{"lines=5", "", 5},
		{"lines=2", "", 2},
		{"", "", 5}, // the default, 10, is capped without a word: not asked for
	} {
		t.Run(tt.query, func(t *testing.T) {
			c := td.dial(p, tt.query+"&format=text")
			if got := c.Header().Get(wire.HeaderMaxLines); got != tt.want {
				t.Errorf("WebSocket: %s %q, want %q", wire.HeaderMaxLines, got, tt.want)
			}
			if got := readLines(t, c, tt.lines); len(got) != tt.lines || got[0] != "line "+strconv.Itoa(21-tt.lines)+"\n" {
				t.Errorf("lines %q", got)
			}
			resp, cancel := td.get(hc, "GET", p, tt.query+"&format=json")
			defer cancel()
			if got := resp.Header.Get(wire.HeaderMaxLines); resp.StatusCode != http.StatusOK || got != tt.want {
				t.Errorf("ndjson: %d, %s %q, want %q", resp.StatusCode, wire.HeaderMaxLines, got, tt.want)
			}
		})
	}
	// a refusal too: the query was read
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := wsconn.Dial(ctx, td.url(td.root+"/missing.log", "lines=9"), wsconn.DialOptions{})
	var he *wsconn.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusNotFound || he.Header.Get(wire.HeaderMaxLines) != "5" {
		t.Errorf("refusal: %v %+v, want 404 with %s: 5", err, he, wire.HeaderMaxLines)
	}
}
