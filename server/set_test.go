package server

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// manyReader reads a json stream of many files as a client does: the lines
// of each file in order, the events, and a cursor.
type manyReader struct {
	t      *testing.T
	c      *wsconn.Client
	lines  map[string][]string // by file
	events []string            // "joined a.log", "left b.log", ...
	cursor wire.Cursor
	total  int
}

func readMany(t *testing.T, c *wsconn.Client) *manyReader {
	return &manyReader{t: t, c: c, lines: make(map[string][]string)}
}

// next reads one message.
func (r *manyReader) next() wire.Message {
	r.t.Helper()
	r.c.SetDeadline(time.Now().Add(20 * time.Second))
	data, err := r.c.Next()
	if err != nil {
		r.t.Fatalf("after %d lines and events %q: %v", r.total, r.events, err)
	}
	m, err := wire.Decode(data)
	if err != nil {
		r.t.Fatalf("message %q: %v", data, err)
	}
	if m.File == "" {
		r.t.Fatalf("message without its file: %s", data)
	}
	if m.Event != "" {
		r.events = append(r.events, m.Event+" "+filepath.Base(m.File))
	}
	if m.Event == wire.EventLeft {
		r.cursor.Delete(m.File)
	}
	r.cursor.Set(m.File, m.Pos)
	r.lines[m.File] = append(r.lines[m.File], m.Lines...)
	r.total += len(m.Lines)
	return m
}

// until reads until cond holds.
func (r *manyReader) until(what string, cond func() bool) {
	r.t.Helper()
	for !cond() {
		r.next()
	}
}

func (r *manyReader) has(file string, n int) func() bool {
	return func() bool { return len(r.lines[file]) >= n }
}

func seqLines(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s %d\n", prefix, i)
	}
	return b.String()
}

func wantSeq(t *testing.T, got []string, prefix string, from, to int) {
	t.Helper()
	want := strings.Split(strings.TrimSuffix(seqLines(prefix, from, to), "\n"), "\n")
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %d lines %q…, want %d lines %s %d…%d", prefix, len(got), got[:min(len(got), 3)], len(want), prefix, from, to-1)
	}
}

// TestManyFiles: a pattern stream starts with the last lines of each file
// (and a message for an empty one), follows each, takes a file that comes
// to match from its start, says when one leaves, and never takes rotated
// generations, compressed or hidden files as files of their own.
func TestManyFiles(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.PollInterval = 50 * time.Millisecond; c.Grace = 100 * time.Millisecond })
	if err := os.Mkdir(filepath.Join(td.root, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := td.write("app/a.log", seqLines("a", 0, 20))
	b := td.write("app/b.log", seqLines("b", 0, 3))
	empty := td.write("app/empty.log", "")
	td.write("app/a.log.1", "rotated\n")
	td.write("app/a.log.2.gz", "packed\n")
	td.write("app/.hidden.log", "hidden\n")
	td.write("app/notes.txt", "not a log\n")

	r := readMany(t, td.dial(filepath.Join(td.root, "app/*.log"), "format=json&lines=5&tail=1"))
	r.until("each file's first message", func() bool {
		_, okA := r.cursor.Get(a)
		_, okB := r.cursor.Get(b)
		_, okE := r.cursor.Get(empty)
		return okA && okB && okE
	})
	wantSeq(t, r.lines[a], "a", 15, 20)
	wantSeq(t, r.lines[b], "b", 0, 3)
	if got := r.cursor.Files(); !slices.Equal(got, []string{a, b, empty}) {
		t.Errorf("files %q, want a.log, b.log, empty.log only", got)
	}

	td.write("app/b.log", seqLines("b", 3, 10))
	td.write("app/a.log", seqLines("a", 20, 30))
	c := td.write("app/c.log", seqLines("c", 0, 4)) // comes to match: from its start
	r.until("new lines", func() bool { return r.has(a, 15)() && r.has(b, 10)() && r.has(c, 4)() })
	wantSeq(t, r.lines[a], "a", 15, 30)
	wantSeq(t, r.lines[b], "b", 0, 10)
	wantSeq(t, r.lines[c], "c", 0, 4)
	if !slices.Contains(r.events, "joined c.log") {
		t.Errorf("events %q: want joined c.log", r.events)
	}

	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	r.until("b.log to leave", func() bool { return slices.Contains(r.events, "left b.log") })
	if _, ok := r.cursor.Get(b); ok {
		t.Error("the cursor still names b.log")
	}
}

// TestManyFilesResume: a stream of many files resumes through a daemon
// restart from its cursor with nothing lost or repeated: lines written to
// each file while it was down, a file that came meanwhile (from its start),
// and a file that went (a left event).
func TestManyFilesResume(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.PollInterval = 50 * time.Millisecond })
	if err := os.Mkdir(filepath.Join(td.root, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := td.write("app/a.log", seqLines("a", 0, 5))
	b := td.write("app/b.log", seqLines("b", 0, 5))
	pattern := filepath.Join(td.root, "app")
	r := readMany(t, td.dial(pattern, "format=json&lines=100&tail=1"))
	r.until("the last lines", func() bool { return r.has(a, 5)() && r.has(b, 5)() })
	td.write("app/a.log", seqLines("a", 5, 8))
	r.until("a's new lines", r.has(a, 8))
	cursor := r.cursor.String()

	td.shutdown()
	td.write("app/a.log", seqLines("a", 8, 12))
	td.write("app/b.log", seqLines("b", 5, 6))
	if err := os.Rename(b, b+".1"); err != nil { // rotated: b.log goes on in a new file
		t.Fatal(err)
	}
	td.write("app/b.log", seqLines("b", 6, 9))
	c := td.write("app/c.log", seqLines("c", 0, 3))
	td = startDaemonAt(t, td.root, td.addr, func(c *Config) { c.PollInterval = 50 * time.Millisecond })

	r2 := readMany(t, td.dial(pattern, "format=json&tail=1&from="+cursor))
	r2.until("what was written while it was down", func() bool { return r2.has(a, 4)() && r2.has(b, 4)() && r2.has(c, 3)() })
	wantSeq(t, r2.lines[a], "a", 8, 12)
	wantSeq(t, r2.lines[b], "b", 5, 9)
	wantSeq(t, r2.lines[c], "c", 0, 3)
	td.write("app/c.log", "c 3\n")
	r2.until("a new line", r2.has(c, 4))
	for _, e := range r2.events {
		if strings.HasPrefix(e, wire.EventGap) {
			t.Errorf("gap announced though nothing was lost: %q", r2.events)
		}
	}
}

// TestManyFilesText: in text, a "==> file <==" line comes before the lines
// of another file than the last lines', as GNU tail writes them.
func TestManyFilesText(t *testing.T) {
	td := startDaemon(t)
	a := td.write("a.log", "a 1\na 2\n")
	b := td.write("b.log", "b 1\n")
	got, err := testutil.ReadAll(t, td.dial(td.root+"/*.log", "format=text&lines=2"))
	if !wsconn.IsClose(err, 1000) {
		t.Fatalf("stream ended with %v, want close 1000", err)
	}
	want := "==> " + a + " <==\na 1\na 2\n\n==> " + b + " <==\nb 1\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	html, err := testutil.ReadAll(t, td.dial(td.root+"/*.log", "lines=1"))
	if !wsconn.IsClose(err, 1000) {
		t.Fatalf("stream ended with %v, want close 1000", err)
	}
	if !strings.Contains(html, `<div class="lt-file">==&gt; `+b+` &lt;==</div>`) {
		t.Errorf("html %q: want a marked file line", html)
	}
}

// TestManyFilesRefused: what a single file would be refused for, and more
// files than --max-files, are refused before the upgrade; a pattern that
// matches nothing yet is a stream that waits for a file.
func TestManyFilesRefused(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.log"), []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	td := startDaemon(t, func(c *Config) { c.MaxFiles = 3; c.PollInterval = 50 * time.Millisecond })
	if err := os.Mkdir(filepath.Join(td.root, "many"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		td.write(fmt.Sprintf("many/f%d.log", i), "x\n")
	}
	if err := os.Symlink(outside, filepath.Join(td.root, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.log"), filepath.Join(td.root, "leak.log")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path   string
		status int
	}{
		{td.root + "/many/*.log", 400},    // 4 > --max-files 3
		{td.root + "/out/*.log", 403},     // a symlinked directory leading out
		{outside + "/*.log", 403},         // outside the roots
		{td.root + "/nothere/*.log", 404}, // no such directory
	} {
		if got := testutil.DialStatus(t, td.url(tt.path, "tail=1&format=json"), nil); got != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, got, tt.status)
		}
	}
	// the symlink leading out is not a match
	r := readMany(t, td.dial(td.root+"/*.log", "format=json&tail=1"))
	p := td.write("w.log", "w 0\n")
	r.until("the file that came", r.has(p, 1))
	for f := range r.lines {
		if strings.Contains(f, "leak") {
			t.Errorf("followed %s, a symlink leading out of the roots", f)
		}
	}
}

// TestRotatedHere: a file is left out of a stream of many files exactly
// when it is a rotated generation of another file there (the same answer as
// asking tailer.RotationOf of every pair, without the pairs).
func TestRotatedHere(t *testing.T) {
	files := []string{"app.log", "app.log.1", "app.log.2.gz", "app-20261204.log", "app-2026-12-04T15-50-03.000.log",
		"app.log-20261204", "app_1.log", "other.log", "other.log.1", "lone.log.1", "x-1", "x", "a.b.c", "a.b.c.7",
		"web.access.log", "web.access.log.3", "db-1.log", "db-1.log.2", "v2.log", "v2.log.1", ".log", ".log.1"}
	here := make(map[string]bool)
	for _, f := range files {
		here["/d/"+f] = true
	}
	for _, f := range files {
		want := false
		for _, base := range files {
			if ok, _ := tailer.RotationOf(base, f); ok && base != f {
				want = true
			}
		}
		if got := rotatedHere("/d/"+f, here); got != want {
			t.Errorf("%s: rotatedHere %v, want %v", f, got, want)
		}
	}
}

// TestManyFilesLargeCursor: a stream of 600 files resumes from its cursor
// (deflated: the plain one would pass the daemon's 64 KiB of headers),
// every file right after its position.
func TestManyFilesLargeCursor(t *testing.T) {
	const n = 600
	td := startDaemon(t, func(c *Config) { c.MaxFiles = n })
	dir := filepath.Join(td.root, "many-files-with-long-names")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := make([]string, n)
	for i := range n {
		names[i] = td.write(fmt.Sprintf("many-files-with-long-names/service-%04d.log", i), fmt.Sprintf("f%d 0\n", i))
	}
	r := readMany(t, td.dial(dir, "format=json&lines=1&tail=1"))
	r.until("a line of each", func() bool { return r.total >= n })
	cursor := r.cursor.String()
	if !strings.HasPrefix(cursor, wire.CursorPrefixDeflated) {
		t.Fatalf("cursor of %d files is %d bytes, not deflated", n, len(cursor))
	}
	for i := 0; i < n; i += 7 {
		td.write(fmt.Sprintf("many-files-with-long-names/service-%04d.log", i), fmt.Sprintf("f%d 1\n", i))
	}
	r2 := readMany(t, td.dial(dir, "format=json&tail=1&from="+cursor))
	r2.until("the lines written since", func() bool { return r2.total >= (n+6)/7 })
	for i, name := range names {
		want := 0
		if i%7 == 0 {
			want = 1
		}
		if got := len(r2.lines[name]); got != want || want == 1 && r2.lines[name][0] != fmt.Sprintf("f%d 1", i) {
			t.Fatalf("%s: %q after the resume, want %d line(s)", filepath.Base(name), r2.lines[name], want)
		}
	}
}

// TestManyFilesOneFollower: streams of many files that share files, and a
// stream of one of them, share one follower per file; closing them all
// stops the followers.
func TestManyFilesOneFollower(t *testing.T) {
	td := startDaemon(t)
	for _, n := range []string{"a.log", "b.log", "c.txt"} {
		td.write(n, n+" 0\n")
	}
	c1 := td.dial(td.root+"/*.log", "format=json&tail=1")
	c2 := td.dial(td.root, "format=json&tail=1")                         // the directory: a.log, b.log, c.txt
	c3 := td.dial(filepath.Join(td.root, "a.log"), "format=json&tail=1") // one of them
	r1, r2 := readMany(t, c1), readMany(t, c2)
	r1.until("both files", func() bool { return r1.cursor.Len() == 2 })
	r2.until("the three files", func() bool { return r2.cursor.Len() == 3 })
	if _, err := readJSON(t, c3); err != nil {
		t.Fatal(err)
	}
	if got := td.d.hub.Followers(); got != 3 {
		t.Errorf("%d followers for 3 files", got)
	}
	for _, c := range []*wsconn.Client{c1, c2, c3} {
		c.Close()
	}
	testutil.WaitFor(t, "the followers to stop", waitForLimit, func() bool { return td.d.hub.Followers() == 0 })
}
