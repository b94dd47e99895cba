package server

import (
	"bufio"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/wire"
)

// httpJSONStream reads a plain-HTTP json stream (sse or ndjson) of p as a
// jsonStream, which checks each message's sizes and position against the
// file. An SSE message's id must be its position. The stream is cut after
// a minute, so that a test that waits in vain fails rather than hangs.
func httpJSONStream(t *testing.T, td *testDaemon, form, p, query string, headers ...string) (*jsonStream, *sseReader) {
	t.Helper()
	c := httpClient(t, nil)
	if form == "sse" {
		headers = append(headers, "Accept", "text/event-stream")
	} else {
		query += "&format=json"
	}
	resp, cancel := td.get(c, "GET", p, query, headers...)
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s?%s: %d %q", p, query, resp.StatusCode, body)
	}
	stop := time.AfterFunc(time.Minute, cancel)
	t.Cleanup(func() { stop.Stop() })
	js := newJSONStream(t, nil, p)
	if form != "sse" {
		br := bufio.NewReaderSize(resp.Body, 1<<20)
		js.read = func() ([]byte, error) {
			line, err := br.ReadBytes('\n')
			if err == io.EOF && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return line, err
		}
		return js, nil
	}
	s := newSSEReader(resp.Body)
	js.read = func() ([]byte, error) {
		for {
			ev, err := s.next()
			if err != nil || ev.Comment != "" {
				if err != nil {
					return nil, err
				}
				continue
			}
			m, err := wire.Decode([]byte(ev.Data))
			if err != nil {
				t.Fatalf("data %q: %v", ev.Data, err)
			}
			if m.Pos != "" && ev.ID != m.Pos || m.Event != "" && ev.Type != m.Event || m.Event == "" && ev.Type != "message" {
				t.Fatalf("event %+v: its type or id is not its message's", ev)
			}
			return []byte(ev.Data), nil
		}
	}
	return js, s
}

// toEOF reads a plain-HTTP json stream to its end.
func (js *jsonStream) toEOF() {
	js.t.Helper()
	for {
		if _, err := js.next(time.Time{}); err != nil {
			if err != io.EOF {
				js.t.Fatalf("stream ended with %v", err)
			}
			return
		}
	}
}

// httpText is the body of the text form.
func httpText(t *testing.T, td *testDaemon, p, query string) string {
	t.Helper()
	resp, _ := td.get(httpClient(t, nil), "GET", p, query+"&format=text")
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %q: %v", resp.StatusCode, body, err)
	}
	return string(body)
}

// grep= and exclude= over plain HTTP, as over WebSocket: the last N lines
// that pass, in each form, with sizes and positions that account for the
// lines left out; then, following, the new lines that pass.
func TestHTTPFilterLastLinesAndFollow(t *testing.T) {
	td := startDaemon(t)
	old := filterLines(1, 6000)
	p := td.write("app.log", joinLines(old))
	cases := filterCases
	query := func(grep, exclude string, n int) url.Values {
		q := url.Values{"lines": {strconv.Itoa(n)}}
		if grep != "" {
			q.Set("grep", grep)
		}
		if exclude != "" {
			q.Set("exclude", exclude)
		}
		return q
	}
	fi, _ := os.Stat(p)
	for _, tc := range cases {
		q := query(tc.grep, tc.exclude, tc.n).Encode()
		want := matching(old, tc.grep, tc.exclude, tc.n)
		for _, form := range []string{"sse", "ndjson"} {
			t.Run(tc.name+"/"+form, func(t *testing.T) {
				js, _ := httpJSONStream(t, td, form, p, q)
				js.toEOF()
				sameLines(t, js.lines, want)
				if js.prev != fi.Size() {
					t.Errorf("the stream ends at %d, not at the file's end %d", js.prev, fi.Size())
				}
			})
		}
		t.Run(tc.name+"/text", func(t *testing.T) {
			if got := httpText(t, td, p, q); got != joinLines(want) {
				t.Fatalf("got %.300q\nwant %.300q", got, joinLines(want))
			}
		})
	}
	// an unfinished last line counts when it passes, as in tail
	p2 := td.write("partial.log", "ERROR 1\nINFO 2\nERROR 3\nINFO 4\nERROR unfinished")
	if got := httpText(t, td, p2, "lines=2&grep=ERROR"); got != "ERROR 3\nERROR unfinished" {
		t.Errorf("text with a partial line: %q", got)
	}
	if got := httpText(t, td, p2, "lines=2&grep=INFO"); got != "INFO 2\nINFO 4\n" {
		t.Errorf("text with a partial line that does not pass: %q", got)
	}

	next := 6001
	for _, tc := range cases[:4] {
		for _, form := range []string{"sse", "ndjson", "text"} {
			t.Run(tc.name+"/follow/"+form, func(t *testing.T) {
				q := query(tc.grep, tc.exclude, tc.n).Encode() + "&tail=1"
				want := matching(filterLines(1, next-1), tc.grep, tc.exclude, tc.n)
				var got func(n int) []string
				if form == "text" {
					resp, _ := td.get(httpClient(t, nil), "GET", p, q+"&format=text")
					br := bufio.NewReader(resp.Body)
					var lines []string
					got = func(n int) []string {
						for len(lines) < n {
							l, err := br.ReadString('\n')
							if err != nil {
								t.Fatalf("after %d of %d lines: %v", len(lines), n, err)
							}
							lines = append(lines, strings.TrimSuffix(l, "\n"))
						}
						return lines
					}
				} else {
					js, _ := httpJSONStream(t, td, form, p, q)
					got = func(n int) []string {
						js.until("the lines", func() bool { return len(js.lines) >= n && js.prev >= 0 })
						return js.lines
					}
				}
				sameLines(t, got(len(want)), want)
				for range 3 {
					added := filterLines(next, next+99)
					next += 100
					td.write("app.log", joinLines(added))
					want = append(want, matching(added, tc.grep, tc.exclude, -1)...)
					sameLines(t, got(len(want)), want)
				}
			})
		}
	}
}

// The search for the last matching lines stops at --max-scan-bytes: a
// scan-limit event in sse and ndjson, nothing in the text, which only goes
// on.
func TestHTTPFilterScanLimit(t *testing.T) {
	const budget = 1 << 20
	td := startDaemon(t, func(c *Config) { c.MaxScanBytes = budget })
	filler := strings.Repeat(strings.Repeat("i", 99)+"\n", (5<<19)/100)
	p := td.write("old.log", "ERROR long ago\n"+filler+"ERROR a\n")
	for _, form := range []string{"sse", "ndjson"} {
		js, _ := httpJSONStream(t, td, form, p, "grep=ERROR&lines=5")
		js.toEOF()
		sameLines(t, js.lines, []string{"ERROR a"})
		if len(js.events) != 1 || js.events[0].Event != wire.EventScanLimit || *js.events[0].Bytes != budget ||
			!strings.HasPrefix(js.events[0].Reason, "found 1 of the 5") {
			t.Fatalf("%s: events %+v, want one scan-limit", form, js.events)
		}
	}
	if got := httpText(t, td, p, "grep=ERROR&lines=5"); got != "ERROR a\n" {
		t.Fatalf("text: %q", got)
	}
	js, _ := httpJSONStream(t, td, "sse", p, "grep=ERROR&lines=5&tail=1")
	js.until("the event and the line", func() bool { return len(js.events) == 1 && len(js.lines) == 1 })
	td.write("old.log", "INFO x\nERROR now\n")
	js.until("the new line", func() bool { return len(js.lines) == 2 })
	sameLines(t, js.lines, []string{"ERROR a", "ERROR now"})
}

// While lines are read and none passes, an event stream is told where it
// stands, a position alone with its id, about once a second: an
// EventSource that reconnects then resumes past those lines.
func TestSSEFilterPositionMoves(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "MATCH 0\n")
	js, s := httpJSONStream(t, td, "sse", p, "lines=1&tail=1&grep=MATCH")
	js.until("the last line", func() bool { return len(js.lines) == 1 })
	start := time.Now()
	td.write("app.log", strings.Repeat("other\n", 1000))
	fi, _ := os.Stat(p)
	js.until("the position past the lines that do not pass", func() bool { return js.prev == fi.Size() })
	t.Logf("position said after %v; %d messages without lines", time.Since(start), js.empties)
	if _, off, _ := wire.OffsetOf(s.lastID); off != fi.Size() {
		t.Fatalf("last id %q, want the position at %d", s.lastID, fi.Size())
	}
	// the next line's size reaches back to that position (jsonStream checks)
	td.write("app.log", "other\nMATCH 1\n")
	js.until("the next line", func() bool { return len(js.lines) == 2 })
	// resumed from the id: only what follows
	last := s.lastID
	td.write("app.log", "other\nMATCH 2\n")
	js2, _ := httpJSONStream(t, td, "sse", p, "tail=1&grep=MATCH", "Last-Event-ID", last)
	js2.prev = js.prev
	js2.until("the line after the id", func() bool { return len(js2.lines) == 1 })
	sameLines(t, js2.lines, []string{"MATCH 2"})
}

// An EventSource with a filter that resumes with Last-Event-ID across a
// daemon restart gets every matching line once, in order: those written
// while it was connected, while the daemon stopped, and after.
func TestSSEFilterResumeRestart(t *testing.T) {
	td := startDaemon(t)
	var all []string
	add := func(from, to int) {
		lines := filterLines(from, to)
		all = append(all, lines...)
		td.write("app.log", joinLines(lines))
	}
	add(1, 500)
	p := td.root + "/app.log"
	const grep = "ERROR"
	js, s := httpJSONStream(t, td, "sse", p, "lines=5&tail=1&grep="+grep)
	want := matching(all, grep, "", 5)
	js.until("the last lines", func() bool { return len(js.lines) >= len(want) })
	add(501, 800)
	td = restartDaemon(t, td) // the stream gets what was read, then ends
	js.toEOF()
	add(801, 1000) // while no stream is open
	got := append([]string(nil), js.lines...)
	js2, _ := httpJSONStream(t, td, "sse", p, "lines=5&tail=1&grep="+grep, "Last-Event-ID", s.lastID)
	js2.prev = js.prev
	add(1001, 1200)
	want = append(want, matching(all[500:], grep, "", -1)...)
	js2.until("every matching line", func() bool { return len(got)+len(js2.lines) >= len(want) })
	got = append(got, js2.lines...)
	sameLines(t, got, want)
	td.write("app.log", "ERROR sentinel\n") // and nothing more before it
	js2.until("the sentinel", func() bool { return len(js.lines)+len(js2.lines) > len(want) })
	if l := js2.lines[len(js2.lines)-1]; l != "ERROR sentinel" || len(js.lines)+len(js2.lines) != len(want)+1 {
		t.Fatalf("after every line: %q (%d lines, want %d)", l, len(js.lines)+len(js2.lines), len(want)+1)
	}
}
