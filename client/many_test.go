package client_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// scripted is a daemon that plays one list of messages per connection, then
// closes with 1001, and hands over each connection's query.
type scripted struct {
	srv     *httptest.Server
	queries chan url.Values
}

func startScripted(t *testing.T, scripts ...[]string) *scripted {
	t.Helper()
	f := &scripted{queries: make(chan url.Values, len(scripts)+2)}
	next := make(chan []string, len(scripts))
	for _, s := range scripts {
		next <- s
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.queries <- r.URL.Query()
		var s []string
		select {
		case s = <-next:
		default:
			http.Error(w, "no more scripts", http.StatusGone)
			return
		}
		c, err := wsconn.Upgrade(w, r, wsconn.Config{CloseWait: time.Second}, nil)
		if err != nil {
			t.Error(err)
			return
		}
		for _, m := range s {
			if err := c.WriteText(append(make([]byte, wsconn.HeaderRoom), m...)); err != nil {
				t.Error(err)
			}
		}
		c.Close(wsconn.CodeGoingAway, "")
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *scripted) url(path string) *url.URL {
	u, _ := url.Parse("ws" + strings.TrimPrefix(f.srv.URL, "http") + path)
	return u
}

// run follows s, with Retry, until the daemon has no more scripts (410, a
// refusal that is final), and returns every message handled.
func (f *scripted) run(t *testing.T, s *client.Stream) []wire.Message {
	t.Helper()
	var got []wire.Message
	err := s.Run(context.Background(), func(m *wire.Message) error {
		got = append(got, *m)
		return nil
	})
	var he *wsconn.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusGone {
		t.Fatalf("Run ended with %v, want the 410 of the last connection", err)
	}
	return got
}

// cursorOf reads the from= of a query as a cursor: file → position.
func cursorOf(t *testing.T, q url.Values) map[string]string {
	t.Helper()
	if q.Has("lines") {
		t.Errorf("query %v: lines= with from=", q)
	}
	c, err := wire.ParseCursor(q.Get("from"))
	if err != nil {
		t.Fatalf("query %v: %v", q, err)
	}
	out := map[string]string{}
	for _, f := range c.Files() {
		out[f], _ = c.Get(f)
	}
	return out
}

// TestManyFilesCursor: a stream of many files reconnects with from=CURSOR,
// the last position of each file by its name, whether the URL says it is
// one ('*') or only the daemon's messages do (a directory): files that
// joined are in it once they have a position, files that left are not.
func TestManyFilesCursor(t *testing.T) {
	for _, path := range []string{"/var/log/app/*.log", "/var/log/app"} {
		t.Run(path, func(t *testing.T) {
			f := startScripted(t,
				[]string{
					`{"lines":["a1","a2"],"sizes":[3,3],"file":"/var/log/app/a.log","pos":"1:1:6"}`,
					`{"lines":[],"file":"/var/log/app/b.log","pos":"1:2:0"}`,
					`{"event":"joined","file":"/var/log/app/c.log"}`,
					`{"lines":["c1"],"sizes":[3],"file":"/var/log/app/c.log","pos":"1:3:3"}`,
					`{"event":"joined","file":"/var/log/app/d.log"}`, // no position yet: read again from its start
				},
				[]string{
					`{"event":"left","file":"/var/log/app/b.log","reason":"removed"}`,
					`{"event":"rotated","file":"/var/log/app/a.log","pos":"1:4:0"}`,
					`{"lines":["a3"],"sizes":[3],"file":"/var/log/app/a.log","pos":"1:4:3"}`,
				},
			)
			s := &client.Stream{URL: f.url(path), Lines: 5, Follow: true, Retry: true}
			got := f.run(t, s)
			if len(got) != 8 {
				t.Errorf("%d messages handled, want 8", len(got))
			}
			if q := <-f.queries; q.Get("lines") != "5" || q.Has("from") {
				t.Errorf("first query %v: want lines=5, no from", q)
			}
			want := map[string]string{"/var/log/app/a.log": "1:1:6", "/var/log/app/b.log": "1:2:0", "/var/log/app/c.log": "1:3:3"}
			if c := cursorOf(t, <-f.queries); !maps.Equal(c, want) {
				t.Errorf("second query's cursor %v, want %v", c, want)
			}
			want = map[string]string{"/var/log/app/a.log": "1:4:3", "/var/log/app/c.log": "1:3:3"}
			if c := cursorOf(t, <-f.queries); !maps.Equal(c, want) {
				t.Errorf("third query's cursor %v, want %v", c, want)
			}
			if !s.Many() || s.Pos() != s.Cursor() || !strings.HasPrefix(s.Cursor(), wire.CursorPrefix) {
				t.Errorf("Many %v, Pos %q, Cursor %q: want a stream of many files whose Pos is its cursor", s.Many(), s.Pos(), s.Cursor())
			}
		})
	}
}

// TestOneFileNoCursor: a single file's events name a rotated generation in
// "file"; that does not make the stream one of many: it resumes with
// from=POS, as it always did.
func TestOneFileNoCursor(t *testing.T) {
	f := startScripted(t,
		[]string{
			`{"lines":["x"],"pos":"1:1:2"}`,
			`{"event":"rotated","file":"/var/log/app.log.1","pos":"1:9:0"}`,
			`{"event":"gap","reason":"gone","file":"/var/log/app.log.2","pos":"1:9:0"}`,
		},
		[]string{`{"lines":["y"],"pos":"1:9:2"}`},
	)
	s := &client.Stream{URL: f.url("/var/log/app.log"), Lines: 3, Follow: true, Retry: true}
	f.run(t, s)
	q1, q2, q3 := <-f.queries, <-f.queries, <-f.queries
	if q1.Get("lines") != "3" || q2.Get("from") != "1:9:0" || q3.Get("from") != "1:9:2" {
		t.Errorf("queries %v, %v, %v: want lines=3, from=1:9:0, from=1:9:2", q1, q2, q3)
	}
	if s.Many() || s.Cursor() != "" || s.Pos() != "1:9:2" {
		t.Errorf("Many %v, Cursor %q, Pos %q: want one file at 1:9:2", s.Many(), s.Cursor(), s.Pos())
	}
}

// TestManyFilesFrom: From may be a cursor, which the first connection
// sends; a From that is not a cursor's text ends Run before any connection.
func TestManyFilesFrom(t *testing.T) {
	var c wire.Cursor
	c.Set("/var/log/app/a.log", "1:1:6")
	f := startScripted(t, []string{`{"lines":["a3"],"file":"/var/log/app/a.log","pos":"1:1:9"}`})
	s := &client.Stream{URL: f.url("/var/log/app"), Follow: true, Retry: true, From: c.String()}
	f.run(t, s)
	if got := cursorOf(t, <-f.queries); !maps.Equal(got, map[string]string{"/var/log/app/a.log": "1:1:6"}) {
		t.Errorf("first query's cursor %v", got)
	}
	if got := cursorOf(t, <-f.queries); !maps.Equal(got, map[string]string{"/var/log/app/a.log": "1:1:9"}) {
		t.Errorf("second query's cursor %v, want a.log after a3", got)
	}

	bad := &client.Stream{URL: f.url("/var/log/app"), Follow: true, From: wire.CursorPrefix + "!!"}
	err := bad.Run(context.Background(), func(*wire.Message) error { return nil })
	if err == nil || !strings.HasPrefix(err.Error(), "client.Stream.From: cursor") {
		t.Errorf("bad cursor: %v", err)
	}
	select {
	case q := <-f.queries:
		t.Errorf("a bad cursor connected (%v)", q)
	default:
	}
}
