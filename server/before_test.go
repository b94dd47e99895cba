package server

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// beforeLine is line i of the paging tests' log: of varied length, some
// longer than a frame's share.
func beforeLine(i int) string {
	return fmt.Sprintf("line %d %s", i, strings.Repeat("-", (i*37)%300))
}

// answer is a page as a client reads it: its lines, start and pos, and the
// events that came before them.
type answer struct {
	lines      []string
	start, pos string
	events     []wire.Message
	messages   int
}

// checkAnswer reads a page's json messages (events, then lines) against
// the file under root that the position names (by inode: it may have been
// renamed): every message of lines has the page's start, each line ends
// where LineEnds says, the first line's size reaches back to start and the
// others' to the message before; the last pos is the position asked for
// or, filtered, right after the last line (before those left out).
func checkAnswer(t *testing.T, root, before string, filtered bool, msgs []wire.Message) answer {
	t.Helper()
	content := contentAt(t, root, before)
	var a answer
	prev := int64(-1)
	for _, m := range msgs {
		if m.Event != "" {
			if a.messages > 0 {
				t.Fatalf("event %+v after the lines", m)
			}
			a.events = append(a.events, m)
			continue
		}
		a.messages++
		if a.start == "" {
			a.start = m.Start
			_, prev, _ = wire.OffsetOf(m.Start)
		}
		if m.Start != a.start || m.Start == "" {
			t.Fatalf("message %d: start %q, the page's %q", a.messages, m.Start, a.start)
		}
		if len(m.Sizes) != len(m.Lines) {
			t.Fatalf("%d sizes for %d lines", len(m.Sizes), len(m.Lines))
		}
		for i, end := range m.LineEnds() {
			_, e, _ := wire.OffsetOf(end)
			want := m.Lines[i] + "\n"
			if e < int64(len(want)) || string(content[e-int64(len(want)):e]) != want {
				t.Fatalf("line %q said to end at %d, where the file has %q", m.Lines[i], e, content[max(0, e-int64(len(want))):e])
			}
			if i == 0 && e-m.Sizes[0] != prev {
				t.Fatalf("line %q: its size %d reaches back to %d, not to %d", m.Lines[i], m.Sizes[0], e-m.Sizes[0], prev)
			}
		}
		a.lines = append(a.lines, m.Lines...)
		a.pos = m.Pos
		_, prev, _ = wire.OffsetOf(m.Pos)
	}
	exact := a.pos == before || samePlace(t, a.pos, before)
	if a.messages == 0 || !exact && (!filtered || len(a.lines) == 0 || !wire.Continues(parsePos(t, a.pos), parsePos(t, before))) {
		t.Fatalf("%d messages of lines, the last at %q, want %q", a.messages, a.pos, before)
	}
	return a
}

func parsePos(t *testing.T, pos string) wire.Position {
	t.Helper()
	p, err := wire.ParsePosition(pos)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// samePlace reports whether pos is the place of before, an older position
// (DEV:INO:OFFSET), which a page names in the form positions have now.
func samePlace(t *testing.T, pos, before string) bool {
	t.Helper()
	p, err1 := wire.ParsePosition(pos)
	b, err2 := wire.ParsePosition(before)
	if err1 != nil || err2 != nil {
		t.Fatalf("positions %q, %q: %v, %v", pos, before, err1, err2)
	}
	return !b.Tagged && p.Tagged && p.Dev == b.Dev && p.Ino == b.Ino && p.Offset == b.Offset
}

// pageWS asks for a page over WebSocket (json) and reads it to the close,
// which must be 1000.
func pageWS(t *testing.T, td *testDaemon, path, before, query string, opt ...wsconn.DialOptions) answer {
	t.Helper()
	c := td.dial(path, "format=json&before="+url.QueryEscape(before)+"&"+query, opt...)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var msgs []wire.Message
	for {
		data, err := c.Next()
		if err != nil {
			if !wsconn.IsClose(err, wsconn.CodeNormal) {
				t.Fatalf("before=%s&%s: ended with %v", before, query, err)
			}
			break
		}
		m, err := wire.Decode(data)
		if err != nil {
			t.Fatalf("not a message: %q", data)
		}
		msgs = append(msgs, m)
	}
	return checkAnswer(t, td.root, before, strings.Contains(query, "grep=") || strings.Contains(query, "exclude="), msgs)
}

// contentAt is the content of the file under root that pos names.
func contentAt(t *testing.T, root, pos string) []byte {
	t.Helper()
	pp, err := wire.ParsePosition(pos)
	if err != nil {
		t.Fatal(err)
	}
	var content []byte
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		if fi, err := e.Info(); err == nil && fi.Sys().(*syscall.Stat_t).Ino == pp.Ino {
			content, err = os.ReadFile(p)
			return err
		}
		return nil
	})
	if err != nil || content == nil {
		t.Fatalf("no file for %s under %s: %v", pos, root, err)
	}
	return content
}

// firstPos is the position of a json stream's first message.
func firstPos(t *testing.T, c *wsconn.Client) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	data, err := c.Next()
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.Decode(data)
	if err != nil || m.Pos == "" {
		t.Fatalf("first message %q: %v", data, err)
	}
	return m.Pos
}

// offsetOf is a position's offset.
func offsetOf(t *testing.T, pos string) int64 {
	t.Helper()
	_, off, ok := wire.OffsetOf(pos)
	if !ok {
		t.Fatalf("position %q", pos)
	}
	return off
}

// pageBack pages back from pos to the file's start, n lines a page, and
// returns the lines in file order and the answers.
func pageBack(t *testing.T, td *testDaemon, path, pos, query string, opt ...wsconn.DialOptions) ([]string, []answer) {
	t.Helper()
	var lines []string
	var pages []answer
	for {
		a := pageWS(t, td, path, pos, query, opt...)
		pages = append(pages, a)
		lines = append(a.lines, lines...)
		if offsetOf(t, a.start) == 0 {
			return lines, pages
		}
		if offsetOf(t, a.start) >= offsetOf(t, pos) || len(pages) > 10000 {
			t.Fatalf("paging stuck at %s", pos)
		}
		pos = a.start
	}
}

// From a followed stream's position, page after page back to the file's
// start: every line once, in order, pages of exactly N lines (the last
// apart), each one message, the last with start at offset 0; while lines
// are appended; a client that negotiated compression gets the same.
func TestBeforePagesBack(t *testing.T) {
	td := startDaemon(t)
	var all []string
	for i := 1; i <= 3000; i++ {
		all = append(all, beforeLine(i))
	}
	p := td.write("app.log", joinLines(all))
	pos := firstPos(t, td.dial(p, "tail=1&lines=0&format=json")) // where a followed stream stands
	for _, tc := range []struct {
		name string
		n    int
		opt  wsconn.DialOptions
	}{
		{"pages of 100", 100, wsconn.DialOptions{}},
		{"pages of 1000, over a frame", 1000, wsconn.DialOptions{}},
		{"pages of 1000, deflated", 1000, wsconn.DialOptions{Deflate: true}},
		{"pages of 30", 30, wsconn.DialOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td.write("app.log", joinLines([]string{"written while paging back"}))
			lines, pages := pageBack(t, td, p, pos, fmt.Sprintf("lines=%d", tc.n), tc.opt)
			sameLines(t, lines, all)
			for i, a := range pages {
				if i < len(pages)-1 && len(a.lines) != tc.n || a.messages != 1 {
					t.Fatalf("page %d: %d lines in %d messages, want %d in one", i, len(a.lines), a.messages, tc.n)
				}
			}
		})
	}
}

// A position in a file that rotation renamed away (app.log.1) is paged
// back in that file, also from an older position (DEV:INO:OFFSET), and
// one in the file a symbolic link pointed to before it moved on to
// another, in the link's target's directory.
func TestBeforeRotated(t *testing.T) {
	td := startDaemon(t)
	old := filterLines(1, 50)
	p := td.write("app.log", joinLines(old))
	pos := firstPos(t, td.dial(p, "tail=1&lines=0&format=json"))
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	td.write("app.log", "the new file\n")

	a := pageWS(t, td, p, pos, "lines=10")
	sameLines(t, a.lines, old[40:])
	lines, _ := pageBack(t, td, p, pos, "lines=7")
	sameLines(t, lines, old)
	pp, _ := wire.ParsePosition(pos)
	legacy := wire.Position{Dev: pp.Dev, Ino: pp.Ino, Offset: pp.Offset}.String()
	a = pageWS(t, td, p, legacy, "lines=10")
	sameLines(t, a.lines, old[40:])
	if sp, err := wire.ParsePosition(a.start); err != nil || !sp.Tagged || sp.Ino != pp.Ino {
		t.Errorf("start %q of a page before an older position", a.start)
	}

	gens := filepath.Join(td.root, "gens")
	if err := os.Mkdir(gens, 0o755); err != nil {
		t.Fatal(err)
	}
	first := td.write("gens/a.log", joinLines(old[:20]))
	link := filepath.Join(td.root, "current.log")
	if err := os.Symlink(first, link); err != nil {
		t.Fatal(err)
	}
	pos = firstPos(t, td.dial(link, "lines=0&format=json"))
	td.write("gens/b.log", "the next target\n")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(gens, "b.log"), link); err != nil {
		t.Fatal(err)
	}
	a = pageWS(t, td, link, pos, "lines=5")
	sameLines(t, a.lines, old[15:20])
}

// A page that cannot be given is refused before the upgrade, over
// WebSocket and plain HTTP alike, with a one-line reason: 404 when the
// position's file is gone or another file now, 400 when the position is not
// a line boundary of it, lies beyond its end, or before= comes with tail=1
// or from=; a name out of the roots is 403, as for any stream.
func TestBeforeRefused(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", numbered(1, 20))
	pos := firstPos(t, td.dial(p, "lines=0&format=json"))
	pp, _ := wire.ParsePosition(pos)
	at := func(off int64) string {
		q := pp
		q.Offset = off
		return q.String()
	}
	legacyAt := func(off int64) string { return wire.Position{Dev: pp.Dev, Ino: pp.Ino, Offset: off}.String() }
	inLine := int64(len(numbered(1, 10)) + 2) // past the first 64 bytes, which the position's checksum covers
	other := pp
	other.Born, other.Head = other.Born+1, other.Head+1
	gone := td.write("gone.log", numbered(1, 5))
	gonePos := firstPos(t, td.dial(gone, "lines=0&format=json"))
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret.log")
	if err := os.WriteFile(outside, []byte(numbered(1, 20)), 0o644); err != nil {
		t.Fatal(err)
	}
	escape := filepath.Join(td.root, "escape.log")
	if err := os.Symlink(outside, escape); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, query string
		status            int
		reason            string
	}{
		{"a name out of the roots", escape, "before=" + pos, 403, ""},
		{"gone", gone, "before=" + gonePos, 404, "is gone"},
		{"another file", p, "before=" + other.String(), 404, "another file"},
		{"not a line boundary", p, "before=" + at(inLine), 400, "not a line boundary"},
		{"not a line boundary, older position", p, "before=" + legacyAt(3), 400, "not a line boundary"},
		{"other first bytes than at the position", p, "before=" + at(3), 404, "truncated since"},
		{"beyond the end", p, "before=" + at(100000), 400, "beyond the end"},
		{"with tail=1", p, "tail=1&before=" + pos, 400, "not with tail=1"},
		{"with from=", p, "tail=1&from=" + pos + "&before=" + pos, 400, "not with tail=1 or from="},
		{"not a position", p, "before=here", 400, "before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := testutil.DialStatus(t, td.url(tc.path, tc.query+"&format=json"), nil); got != tc.status {
				t.Errorf("WebSocket: %d, want %d", got, tc.status)
			}
			resp, _ := td.get(httpClient(t, nil), "GET", tc.path, tc.query+"&format=text")
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.reason) || strings.Count(strings.TrimSpace(string(body)), "\n") > 0 {
				t.Errorf("plain HTTP: %d %q, want %d and a line with %q", resp.StatusCode, body, tc.status, tc.reason)
			}
		})
	}
}

// grep= and exclude= page back through the lines that pass: every one
// once, in order, to the file's start, a page a message; the sizes count
// the lines left out.
// Where --max-scan-bytes stops a search, a scan-limit event comes first,
// the page starts where the search stopped (at pos offset of the event),
// and paging on from there loses nothing.
func TestBeforeGrep(t *testing.T) {
	lines := filterLines(1, 3000)
	for _, tc := range []struct {
		name, grep, exclude string
		n                   int
		maxScan             int64
	}{
		{"grep", "ERROR", "", 25, 0},
		{"grep and exclude", "ERROR|WARN", "disk", 40, 0},
		{"rare, over the scan limit", "seq=(7|1500|2996) ", "", 5, 20000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td := startDaemon(t, func(c *Config) { c.MaxScanBytes = tc.maxScan })
			p := td.write("app.log", joinLines(lines))
			pos := firstPos(t, td.dial(p, "lines=0&format=json"))
			q := url.Values{"lines": {fmt.Sprint(tc.n)}, "grep": {tc.grep}}
			if tc.exclude != "" {
				q.Set("exclude", tc.exclude)
			}
			got, pages := pageBack(t, td, p, pos, q.Encode())
			sameLines(t, got, matching(lines, tc.grep, tc.exclude, -1))
			limited := 0
			for _, a := range pages {
				if a.messages != 1 {
					t.Errorf("a page in %d messages of lines", a.messages)
				}
				for _, e := range a.events {
					if e.Event != wire.EventScanLimit || e.Pos != a.start {
						t.Fatalf("event %+v on a page starting at %s", e, a.start)
					}
					limited++
				}
			}
			if tc.maxScan > 0 && limited == 0 {
				t.Error("no scan-limit event")
			}
		})
	}
}

// Over plain HTTP: format=text is the page's lines, as curl gets them;
// ndjson and Server-Sent Events its json messages, with start; an
// EventSource reconnecting after the page ended gets 204.
func TestBeforeOverHTTP(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", numbered(1, 40))
	pos := firstPos(t, td.dial(p, "lines=0&format=json"))
	before := "before=" + url.QueryEscape(pos) + "&lines=5"

	resp, err := http.Get("http://" + td.addr + p + "?" + before + "&format=text")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != numbered(36, 40) || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("text: %d %q %v", resp.StatusCode, body, err)
	}

	resp, _ = td.get(httpClient(t, nil), "GET", p, before+"&format=json")
	var msgs []wire.Message
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			break
		}
		m, derr := wire.Decode(line)
		if err != nil || derr != nil {
			t.Fatalf("ndjson line %q: %v %v", line, err, derr)
		}
		msgs = append(msgs, m)
	}
	a := checkAnswer(t, td.root, pos, false, msgs)
	sameLines(t, a.lines, strings.Split(strings.TrimSuffix(numbered(36, 40), "\n"), "\n"))
	if offsetOf(t, a.start) != int64(len(numbered(1, 35))) {
		t.Errorf("ndjson: start %s", a.start)
	}

	resp, _ = td.get(httpClient(t, nil), "GET", p, before, "Accept", "text/event-stream")
	s := newSSEReader(resp.Body)
	msgs = nil
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
		m, err := wire.Decode([]byte(ev.Data))
		if err != nil || ev.ID != m.Pos || ev.Type != "message" {
			t.Fatalf("event %+v: %v", ev, err)
		}
		msgs = append(msgs, m)
	}
	if a := checkAnswer(t, td.root, pos, false, msgs); offsetOf(t, a.start) != int64(len(numbered(1, 35))) || len(a.lines) != 5 {
		t.Errorf("sse: %+v", a)
	}
	resp, _ = td.get(httpClient(t, nil), "GET", p, before, "Accept", "text/event-stream", "Last-Event-ID", pos)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("an EventSource reconnecting: %d", resp.StatusCode)
	}
}

// In html (the WebSocket's default) a page is its lines rendered, as other
// html streams render them; in text, the lines.
func TestBeforeHTMLAndText(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "one <b>\n\x1b[31mred\x1b[0m & two\nthree\n")
	pos := firstPos(t, td.dial(p, "lines=0&format=json"))
	got, err := testutil.ReadAll(t, td.dial(p, "lines=2&before="+url.QueryEscape(pos)))
	if !wsconn.IsClose(err, wsconn.CodeNormal) || !strings.Contains(got, "&amp; two") || strings.Contains(got, "one") ||
		!strings.Contains(got, "<span") || strings.Contains(got, "\x1b") {
		t.Errorf("html: %q, %v", got, err)
	}
	got, err = testutil.ReadAll(t, td.dial(p, "format=text&lines=2&before="+url.QueryEscape(pos)))
	if !wsconn.IsClose(err, wsconn.CodeNormal) || got != "\x1b[31mred\x1b[0m & two\nthree\n" {
		t.Errorf("text: %q, %v", got, err)
	}
	got, err = testutil.ReadAll(t, td.dial(p, "format=json&lines=0&before="+url.QueryEscape(pos)))
	if m, _ := wire.Decode([]byte(got)); !wsconn.IsClose(err, wsconn.CodeNormal) || len(m.Lines) != 0 || m.Start != pos || m.Pos != pos {
		t.Errorf("lines=0: %q, %v", got, err)
	}
}

// A page of 50,000 lines of 400 bytes (20 MB, more once in JSON) is read
// and sent a chunk at a time, in messages of about a megabyte, each with
// the page's start: the heap does not grow by the page, as it would were
// the page held to be sent as one.
func TestBeforeMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and pages through 20 MB")
	}
	const lines, width = 50000, 400
	td := startDaemon(t, func(c *Config) { c.MaxLines = lines })
	p := filepath.Join(td.root, "big.log")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("a line of a log that is long enough ", 12)[:width-1] + "\n"
	block := strings.Repeat(line, 1000)
	if err := writeBlocks(p, []byte(block), lines*width); err != nil {
		t.Fatal(err)
	}
	pos := firstPos(t, td.dial(p, "lines=0&format=json"))
	defer debug.SetGCPercent(debug.SetGCPercent(10)) // the heap then follows what is held
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	c := td.dial(p, fmt.Sprintf("format=json&lines=%d&before=%s", lines, url.QueryEscape(pos)))
	c.SetDeadline(time.Now().Add(time.Minute))
	got, msgs := 0, 0
	var last wire.Message
	for {
		data, err := c.Next()
		if err != nil {
			if !wsconn.IsClose(err, wsconn.CodeNormal) {
				t.Fatal(err)
			}
			break
		}
		if last, err = wire.Decode(data); err != nil {
			t.Fatal(err)
		}
		got += len(last.Lines)
		if last.Start == "" || offsetOf(t, last.Start) != 0 || len(data) > 2*pageTarget {
			t.Fatalf("message %d: %d bytes, start %q", msgs, len(data), last.Start)
		}
		if msgs++; msgs%20 == 0 { // the daemon is a socket's buffer ahead at most
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	t.Logf("%d lines in %d messages; heap %.1f MiB before, at most %.1f MiB while sent", got, msgs, float64(base)/(1<<20), float64(peak)/(1<<20))
	if got != lines || last.Pos != pos || offsetOf(t, last.Start) != 0 {
		t.Fatalf("%d lines, start %s, pos %s", got, last.Start, last.Pos)
	}
	if grew := peak - base; grew > 8<<20 {
		t.Errorf("the heap grew by %.1f MiB for a page of %d MB", float64(grew)/(1<<20), lines*width>>20)
	}
}
