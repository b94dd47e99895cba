package tailer

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wire"
)

// openFile is Config.Open without a sandbox.
func openFile(name string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// testConfig polls rarely: the tests must pass on inotify events alone
// (tests that need the poll say so).
func testConfig() Config {
	return Config{Open: openFile, PollInterval: time.Minute, Grace: 2 * time.Second, NewRenderer: newMarker}
}

func newTestHub(t testing.TB, cfg Config) *Hub {
	t.Helper()
	if cfg.Logger == nil && os.Getenv("TAILER_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h := NewHub(cfg)
	t.Cleanup(func() { h.Close() })
	return h
}

// tWriter sends the hub's log to the test's (TAILER_TEST_LOG=1).
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

const timeout = 10 * time.Second

// reader collects a subscription's lines.
type reader struct {
	t     testing.TB
	s     *Subscription
	lines []string
	ends  []wire.Position
}

// next returns the next batch, failing on timeout or a closed channel.
func (r *reader) next() *Batch {
	r.t.Helper()
	select {
	case b, ok := <-r.s.C:
		if !ok {
			r.t.Fatalf("subscription ended: %v", r.s.Err())
		}
		r.s.Release(b)
		// a subscription starts with its position, even without lines
		if len(b.Raw) > 0 && b.Raw[len(b.Raw)-1] != '\n' {
			r.t.Fatalf("batch not made of complete lines: %q (end %v)", b.Raw, b.End)
		}
		if got := bytes.Count(b.Raw, []byte{'\n'}); got != b.Lines {
			r.t.Fatalf("batch Lines=%d, holds %d", b.Lines, got)
		}
		for l := range bytes.Lines(b.Raw) {
			r.lines = append(r.lines, string(l))
		}
		r.ends = append(r.ends, b.End)
		return b
	case <-time.After(timeout):
		r.t.Fatalf("no batch within %v; have %d lines, last %q", timeout, len(r.lines), r.last())
		return nil
	}
}

func (r *reader) last() string {
	if len(r.lines) == 0 {
		return ""
	}
	return r.lines[len(r.lines)-1]
}

// until reads until it holds n lines in all.
func (r *reader) until(n int) []string {
	r.t.Helper()
	for len(r.lines) < n {
		r.next()
	}
	return r.lines
}

// ended waits for the subscription to end and returns why.
func ended(t testing.TB, s *Subscription) error {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case b, ok := <-s.C:
			if !ok {
				return s.Err()
			}
			s.Release(b)
		case <-deadline:
			t.Fatal("subscription did not end")
		}
	}
}

func subscribe(t testing.TB, h *Hub, name string, opt Options) *reader {
	t.Helper()
	s, err := h.Subscribe(name, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &reader{t: t, s: s}
}

func appendTo(t testing.TB, name, text string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func numbered(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s %d\n", prefix, i)
	}
	return b.String()
}

func wantLines(t testing.TB, got []string, want string) {
	t.Helper()
	if g := strings.Join(got, ""); g != want {
		t.Fatalf("lines:\n got %q\nwant %q", g, want)
	}
}

func TestHubSharedFollower(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, name, numbered("old", 0, 10)+"partial")
	h := newTestHub(t, testConfig())
	a := subscribe(t, h, name, Options{Lines: 3})
	b := subscribe(t, h, name, Options{Lines: 5, HTML: true})
	if n := h.Followers(); n != 1 {
		t.Fatalf("Followers() = %d, want 1", n)
	}
	wantLines(t, a.until(3), numbered("old", 7, 10))
	wantLines(t, b.until(5), numbered("old", 5, 10))
	appendTo(t, name, " line\n"+numbered("new", 0, 5))
	wantLines(t, a.until(3+6), numbered("old", 7, 10)+"partial line\n"+numbered("new", 0, 5))
	wantLines(t, b.until(5+6), numbered("old", 5, 10)+"partial line\n"+numbered("new", 0, 5))
	a.s.Close()
	if n := h.Followers(); n != 1 {
		t.Fatalf("after one Close, Followers() = %d, want 1", n)
	}
	appendTo(t, name, "more\n")
	b.until(5 + 7)
	b.s.Close()
	testutil.WaitFor(t, "the follower to stop", timeout, func() bool { return h.Followers() == 0 })
	if err := a.s.Err(); !errors.Is(err, ErrClosed) {
		t.Errorf("Err() after Close = %v", err)
	}
}

// TestHubSeam subscribes while a writer appends as fast as it can: each
// subscriber sees every line from its first on, once, in order.
func TestHubSeam(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, name, "")
	h := newTestHub(t, testConfig())
	const total = 50000
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for i := range total {
			if _, err := fmt.Fprintf(f, "line %d\n", i); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	})
	defer wg.Wait()
	defer close(stop)

	// every subscriber reads in its own goroutine, as the daemon's senders do
	var readers sync.WaitGroup
	for i := range 8 {
		s, err := h.Subscribe(name, Options{Lines: i * 7})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		readers.Go(func() {
			next, first := -1, -1
			deadline := time.After(timeout)
			for next != total {
				var b *Batch
				var ok bool
				select {
				case b, ok = <-s.C:
				case <-deadline:
					t.Errorf("subscriber %d: stuck after line %d", i, next-1)
					return
				}
				if !ok {
					t.Errorf("subscriber %d ended: %v", i, s.Err())
					return
				}
				s.Release(b)
				for l := range bytes.Lines(b.Raw) {
					n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(string(l), "line "), "\n"))
					if err != nil {
						t.Errorf("subscriber %d: bad line %q", i, l)
						return
					}
					if first < 0 {
						first, next = n, n
					}
					if n != next {
						t.Errorf("subscriber %d: line %d after line %d (first was %d)", i, n, next-1, first)
						return
					}
					next++
				}
			}
		})
		runtime.Gosched()
	}
	readers.Wait()
}

func TestHubPartialLine(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, name, "a\n")
	h := newTestHub(t, testConfig())
	r := subscribe(t, h, name, Options{Lines: 1})
	r.until(1)
	appendTo(t, name, "hel")
	appendTo(t, name, "lo wor")
	select {
	case b := <-r.s.C:
		t.Fatalf("got %q before the newline", b.Raw)
	case <-time.After(100 * time.Millisecond): // nothing must come: a short look is all we can do
	}
	appendTo(t, name, "ld\nnext\n")
	wantLines(t, r.until(3), "a\nhello world\nnext\n")
}

func TestHubRename(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "app.log")
	appendTo(t, name, numbered("before", 0, 3))
	cfg := testConfig()
	cfg.Grace = 3 * time.Second
	h := newTestHub(t, cfg)
	r := subscribe(t, h, name, Options{Lines: 10})
	r.until(3)

	old, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := os.Rename(name, name+".1"); err != nil {
		t.Fatal(err)
	}
	// the application keeps writing to its open descriptor until it reopens
	fmt.Fprint(old, numbered("renamed", 0, 5))
	r.until(3 + 5)
	fmt.Fprint(old, "renamed late\n")
	appendTo(t, name, numbered("new", 0, 5))
	r.until(3 + 5 + 1 + 5)
	wantLines(t, r.lines, numbered("before", 0, 3)+numbered("renamed", 0, 5)+"renamed late\n"+numbered("new", 0, 5))
	// and the new file is followed on inotify events alone (PollInterval is a minute)
	appendTo(t, name, numbered("later", 0, 2))
	wantLines(t, r.until(3 + 5 + 1 + 5 + 2)[14:], numbered("later", 0, 2))
	if r.s.Err() != nil {
		t.Fatal(r.s.Err())
	}
}

// TestHubRenameThenCreate: rotation where the new file appears before the
// follower noticed the rename; lines still written to the old file within the
// grace period come before the new file's.
func TestHubRenameThenCreate(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "app.log")
	appendTo(t, name, numbered("before", 0, 3))
	h := newTestHub(t, testConfig())
	r := subscribe(t, h, name, Options{Lines: 10})
	r.until(3)
	old, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := os.Rename(name, name+".1"); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(old, numbered("renamed", 0, 5))
	appendTo(t, name, numbered("new", 0, 5))
	r.until(3 + 5 + 5)
	wantLines(t, r.lines, numbered("before", 0, 3)+numbered("renamed", 0, 5)+numbered("new", 0, 5))
	appendTo(t, name, numbered("later", 0, 2))
	wantLines(t, r.until(15)[13:], numbered("later", 0, 2))
}

func TestHubTruncate(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, name, numbered("before truncation, a long line", 0, 20))
	h := newTestHub(t, testConfig())
	r := subscribe(t, h, name, Options{Lines: 1})
	r.until(1)
	if err := os.Truncate(name, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, name, numbered("new", 0, 3))
	wantLines(t, r.until(4)[1:], numbered("new", 0, 3))
	appendTo(t, name, "more\n")
	wantLines(t, r.until(5)[4:], "more\n")
}

func TestHubDeleteRecreate(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, name, "first\n")
	h := newTestHub(t, testConfig())
	r := subscribe(t, h, name, Options{Lines: 1})
	r.until(1)
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	appendTo(t, name, numbered("new", 0, 3))
	wantLines(t, r.until(4)[1:], numbered("new", 0, 3))
	appendTo(t, name, "more\n")
	wantLines(t, r.until(5)[4:], "more\n")
}

// TestHubDeleteWaitRecreate: the name is gone for a while before it comes back.
func TestHubDeleteWaitRecreate(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, name, "first\n")
	cfg := testConfig()
	cfg.Grace = 50 * time.Millisecond
	h := newTestHub(t, cfg)
	r := subscribe(t, h, name, Options{Lines: 1})
	r.until(1)
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	// the old descriptor is closed once the grace period is over
	testutil.WaitFor(t, "the deleted file to be closed", timeout, func() bool { return !fdOpenTo(t, name) })
	appendTo(t, name, numbered("new", 0, 3))
	wantLines(t, r.until(4)[1:], numbered("new", 0, 3))
	appendTo(t, name, "more\n")
	wantLines(t, r.until(5)[4:], "more\n")
}

// fdOpenTo reports whether this process has a descriptor open to name (or to
// its deleted inode).
func fdOpenTo(t testing.TB, name string) bool {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	for _, e := range ents {
		l, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil && strings.HasPrefix(l, name) {
			return true
		}
	}
	return false
}

func TestHubSlowSubscriber(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, name, "")
	cfg := testConfig()
	cfg.QueueBytes = 64 << 10
	h := newTestHub(t, cfg)
	slow, err := h.Subscribe(name, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast := subscribe(t, h, name, Options{})

	const total = 20000 // far more than 64 KiB
	var want strings.Builder
	for i := 0; i < total; i += 1000 {
		chunk := numbered("line", i, i+1000)
		want.WriteString(chunk)
		appendTo(t, name, chunk)
		fast.until(i + 1000)
	}
	wantLines(t, fast.lines, want.String())
	// the slow one never read: it was dropped, the fast one was not
	select {
	case <-time.After(timeout):
		t.Fatal("the slow subscriber was not dropped")
	case <-waitClosed(slow):
	}
	if !errors.Is(slow.Err(), ErrSlow) {
		t.Fatalf("slow.Err() = %v, want ErrSlow", slow.Err())
	}
	if fast.s.Err() != nil {
		t.Fatalf("fast subscriber ended: %v", fast.s.Err())
	}
}

// waitClosed drains s without releasing (a subscriber that stopped reading)
// and reports when its channel is closed. It only looks after the fact.
func waitClosed(s *Subscription) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range s.C {
		}
	}()
	return done
}

func TestHubLongLine(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, name, "")
	cfg := testConfig()
	cfg.MaxLineBytes = 1000
	h := newTestHub(t, cfg)
	r := subscribe(t, h, name, Options{HTML: true})
	long := strings.Repeat("x", 5000)
	appendTo(t, name, "short\n"+long[:2500])
	appendTo(t, name, long[2500:]+"\nafter 1\n")
	// a long line that comes in one piece, and one that ends exactly at the limit
	appendTo(t, name, long+"\n"+long[:1000]+"\nafter 2\n")
	// one split in the middle of a multi-byte character at the cut
	appendTo(t, name, strings.Repeat("x", 999)+"é"+long+"\nafter 3\n")
	want := "short\n" + long[:1000] + cutMark + "after 1\n" + long[:1000] + cutMark + long[:1000] + "\nafter 2\n" +
		strings.Repeat("x", 999) + cutMark + "after 3\n"
	wantLines(t, r.until(8), want)
}

func TestHubMissingFile(t *testing.T) {
	h := newTestHub(t, testConfig())
	name := filepath.Join(t.TempDir(), "missing.log")
	s, err := h.Subscribe(name, Options{Lines: 10})
	if !errors.Is(err, os.ErrNotExist) || s != nil {
		t.Fatalf("Subscribe(missing) = %v, %v; want os.ErrNotExist", s, err)
	}
	testutil.WaitFor(t, "no follower", timeout, func() bool { return h.Followers() == 0 })
	// and the name can be subscribed to once it exists
	appendTo(t, name, "now\n")
	r := subscribe(t, h, name, Options{Lines: 10})
	wantLines(t, r.until(1), "now\n")
}

func TestHubClose(t *testing.T) {
	dir := t.TempDir()
	h := NewHub(testConfig())
	var subs []*Subscription
	for i := range 3 {
		name := filepath.Join(dir, fmt.Sprint(i))
		appendTo(t, name, "x\n")
		for range 2 {
			s, err := h.Subscribe(name, Options{Lines: 1})
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, s)
		}
	}
	if n := h.Followers(); n != 3 {
		t.Fatalf("Followers() = %d", n)
	}
	h.Close()
	for _, s := range subs {
		if err := ended(t, s); !errors.Is(err, ErrClosed) {
			t.Errorf("Err() = %v, want ErrClosed", err)
		}
		s.Close() // after the hub closed: must not block
	}
	if n := h.Followers(); n != 0 {
		t.Fatalf("Followers() = %d after Close", n)
	}
	if _, err := h.Subscribe(filepath.Join(dir, "0"), Options{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
}

func countFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func TestHubSubscribeCloseCycles(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, name, numbered("line", 0, 100))
	h := newTestHub(t, testConfig())
	// warm up the process-wide inotify tracker first: it stays
	s, err := h.Subscribe(name, Options{Lines: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	testutil.WaitFor(t, "no follower", timeout, func() bool { return h.Followers() == 0 })
	settle := func() (int, int) {
		var g, fds int
		stable := 0
		testutil.WaitFor(t, "settling", timeout, func() bool {
			ng, nf := runtime.NumGoroutine(), countFDs(t)
			if ng == g && nf == fds {
				stable++
			} else {
				g, fds, stable = ng, nf, 0
			}
			return stable >= 10
		})
		return g, fds
	}
	g0, fd0 := settle()
	for i := range 1000 {
		s, err := h.Subscribe(name, Options{Lines: i % 3})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			s.Close()
			continue
		}
		s2, err := h.Subscribe(name, Options{Lines: 1, HTML: true})
		if err != nil {
			t.Fatal(err)
		}
		s2.Close()
		s.Close()
	}
	testutil.WaitFor(t, "no follower", timeout, func() bool { return h.Followers() == 0 })
	testutil.WaitFor(t, "goroutines and descriptors back to the start", timeout, func() bool {
		return runtime.NumGoroutine() == g0 && countFDs(t) == fd0
	})
}

// BenchmarkFollow: one follower, one subscriber, 1e5 lines of 100 bytes
// appended in bulk.
func BenchmarkFollow(b *testing.B) {
	const lines = 100000
	chunk := []byte(linesOf(lines, 100))
	name := filepath.Join(b.TempDir(), "app.log")
	appendTo(b, name, "")
	h := newTestHub(b, Config{Open: openFile})
	r := subscribe(b, h, name, Options{})
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ResetTimer()
	start := time.Now()
	got := 0
	for b.Loop() {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
		for n := 0; n < lines; {
			n += r.next().Lines
		}
		got += lines
		r.lines, r.ends = r.lines[:0], r.ends[:0]
	}
	b.ReportMetric(float64(got)/time.Since(start).Seconds(), "lines/s")
}

// marker is the tests' Renderer: each line in <p>…</p>, its state the count
// of lines seen.
type marker struct{ seen int }

func newMarker() Renderer { return new(marker) }

func (m *marker) AppendHTML(dst, line []byte) []byte {
	m.seen++
	dst = append(dst, "<p>"...)
	dst = append(dst, line...)
	return append(dst, "</p>"...)
}

func (m *marker) Advance([]byte) { m.seen++ }
