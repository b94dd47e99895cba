package tailer

import (
	"context"
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
)

// countingHandler counts the log records by message and path.
type countingHandler struct {
	mu sync.Mutex
	n  map[string]int // message + " " + path
}

func (c *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (c *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *countingHandler) WithGroup(string) slog.Handler            { return c }
func (c *countingHandler) Handle(_ context.Context, r slog.Record) error {
	path := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "path" {
			path = a.Value.String()
		}
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[r.Message+" "+path]++
	return nil
}

func (c *countingHandler) count(msg, path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[msg+" "+path]
}

// TestMaxWatches: with room for 3 inotify watches, 6 files in two
// directories are all followed, those without a watch by polling: every
// line of each comes, a rotation of a polled file is seen, and the hub
// never holds more than 3 watches. When watches are freed, polled files
// take them.
func TestMaxWatches(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	var names []string
	for _, dir := range []string{dirA, dirB} {
		for i := range 3 {
			name := filepath.Join(dir, fmt.Sprintf("app%d.log", i))
			appendTo(t, name, "start\n")
			names = append(names, name)
		}
	}
	logs := &countingHandler{n: make(map[string]int)}
	cfg := testConfig()
	cfg.MaxWatches = 3
	cfg.PollInterval = 20 * time.Millisecond
	cfg.Grace = 100 * time.Millisecond
	cfg.Logger = slog.New(logs)
	h := newTestHub(t, cfg)
	checkWatches := func() {
		t.Helper()
		if n := h.Watches(); n > cfg.MaxWatches {
			t.Fatalf("Watches() = %d > MaxWatches %d", n, cfg.MaxWatches)
		}
	}
	// the first file of dirA takes its directory's watch and its own, the
	// second its own; the rest are polled (dirB's have no directory watch)
	readers := make([]*reader, len(names))
	subs := make([]*Subscription, len(names))
	for i, name := range names {
		s, err := h.Subscribe(name, Options{Lines: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		subs[i], readers[i] = s, &reader{t: t, s: s}
		readers[i].until(1)
		checkWatches()
	}
	if n := h.Watches(); n != cfg.MaxWatches {
		t.Fatalf("Watches() = %d, want %d", n, cfg.MaxWatches)
	}
	round := func(label string, which []int) {
		t.Helper()
		for _, i := range which {
			appendTo(t, names[i], numbered(label, 0, 3))
		}
		for _, i := range which {
			n := len(readers[i].lines) + 3
			wantLines(t, readers[i].until(n)[n-3:], numbered(label, 0, 3))
			checkWatches()
		}
	}
	all := []int{0, 1, 2, 3, 4, 5}
	round("first", all)
	round("second", all)

	// a polled file with no directory watch is rotated: the rest of the
	// old file, then the new one
	polled := names[4]
	old, err := os.OpenFile(polled, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := os.Rename(polled, polled+".1"); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(old, "renamed\n")
	appendTo(t, polled, "new\n")
	n := len(readers[4].lines) + 2
	got := strings.Join(readers[4].until(n)[n-2:], "")
	if got != "renamed\nnew\n" {
		t.Fatalf("after a rotation of a polled file: %q", got)
	}
	round("after rotation", all)
	for _, name := range names[2:] {
		if n := logs.count("no inotify watch; following the file by polling", name); n != 1 {
			t.Errorf("%s: told %d times that it is polled, want once", filepath.Base(name), n)
		}
	}

	// the first two followers stop: their watches go to polled files
	subs[0].Close()
	subs[1].Close()
	testutil.WaitFor(t, "the freed watches taken again", timeout, func() bool {
		checkWatches()
		return h.Watches() == cfg.MaxWatches
	})
	round("third", all[2:])
}

// TestQueueOverflow: when the directory watches' event queue overflows,
// the followers whose events were lost do not wait for the next poll (the
// test's PollInterval is a minute): every follower is woken. The follower
// of b.log waits for a file to come back under its name, which only its
// directory's watch tells; that event is lost in the overflow.
func TestQueueOverflow(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Skip("no /proc/sys/fs/inotify/max_queued_events")
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || limit > 1<<20 {
		t.Skipf("max_queued_events %q: too many to overflow", b)
	}
	dir := t.TempDir()
	name := filepath.Join(dir, "b.log")
	appendTo(t, name, "")
	cfg := testConfig()
	cfg.Grace = time.Millisecond // the renamed-away file's quick checks end at once
	h := newTestHub(t, cfg)
	r := subscribe(t, h, name, Options{})
	r.next() // where it starts
	if err := os.Rename(name, name+".gone"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	h.Sync(ctx) // the follower has seen the name go
	gone := time.Now()
	testutil.WaitFor(t, "the grace period to end", timeout, func() bool { return time.Since(gone) > 10*cfg.Grace })
	h.Sync(ctx) // it is done with the old file, and waits for the name: only events or the poll (a minute) wake it
	// While no event is read, other names in the directory fill the queue,
	// then b.log comes back: its event is lost.
	filler := filepath.Join(dir, "filler")
	notify.mu.Lock()
	for range limit/2 + 10 {
		f, err := os.Create(filler)
		if err == nil {
			f.Close()
			err = os.Remove(filler)
		}
		if err != nil {
			notify.mu.Unlock()
			t.Fatal(err)
		}
	}
	f, err := os.Create(name)
	if err == nil {
		_, err = f.WriteString("line 0\n")
		f.Close()
	}
	notify.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, r.until(1), numbered("line", 0, 1))
}

// TestIdleFollowersParked: an idle follower holds no goroutine, and file
// watches share their forwarders (one per forwarderWatches files): 100
// followed files cost a handful of goroutines, not one or two each. With the
// poll an hour apart, each file's line can come only through its watch's
// event, forwarded to a follower that had no goroutine.
func TestIdleFollowersParked(t *testing.T) {
	const n = 100
	dir := t.TempDir()
	cfg := testConfig()
	cfg.PollInterval = time.Hour
	h := newTestHub(t, cfg)
	base := runtime.NumGoroutine()
	// nxadm/tail's tracker and its fsnotify reader (started once in a
	// process), the directory watch's reader, and a forwarder for each 32
	// files
	most := base + 2 + 1 + (n+forwarderWatches-1)/forwarderWatches
	names := make([]string, n)
	readers := make([]*reader, n)
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprintf("app%03d.log", i))
		appendTo(t, names[i], "start\n")
		s, err := h.Subscribe(names[i], Options{Lines: 0})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		readers[i] = &reader{t: t, s: s}
	}
	parked := func() bool { return runtime.NumGoroutine() <= most }
	testutil.WaitFor(t, fmt.Sprintf("%d idle followers to hold at most %d goroutines besides the test's %d", n, most-base, base), 10*time.Second, parked)
	for round := range 2 {
		for i, name := range names {
			appendTo(t, name, fmt.Sprintf("round %d file %d\n", round, i))
		}
		for i, r := range readers {
			got := r.until(round + 1)
			if want := fmt.Sprintf("round %d file %d\n", round, i); got[round] != want {
				t.Fatalf("file %d: %q, want %q", i, got[round], want)
			}
		}
		testutil.WaitFor(t, "the followers to be idle again", 10*time.Second, parked)
	}
	if w := h.Watches(); w != n+1 {
		t.Fatalf("Watches() = %d, want %d (a file each and the directory)", w, n+1)
	}
}
