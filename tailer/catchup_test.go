package tailer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// TestCatchUpBounded: subscribers resuming from the start of a file hold
// at most catchUpQueue each and CatchUpBytes all together (give or take
// the batch being read); those that stop taking are dropped (ErrSlow, they
// resume) once others wait for room, and the one that reads gets every line,
// in order.
func TestCatchUpBounded(t *testing.T) {
	const (
		budget  = 1 << 20
		readers = 8
		batch   = readBlock + 64 // a read block, and what a cut line adds
	)
	name := filepath.Join(t.TempDir(), "app.log")
	content := numbered("line", 0, 100_000) // about 1 MB
	appendTo(t, name, content)
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	start, err := PositionAt(f, 0)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.CatchUpBytes, cfg.StallAfter = budget, 50*time.Millisecond // dropped after 500 ms
	h := newTestHub(t, cfg)
	var idle []*Subscription
	for range readers - 1 { // never take anything
		s, err := h.Subscribe(name, Options{From: &start})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		idle = append(idle, s)
	}
	testutil.WaitFor(t, "the idle subscribers to fill the budget", timeout, func() bool { return h.catchUp.Load() >= budget-batch })
	if held := h.catchUp.Load(); held > budget+batch {
		t.Errorf("catch-up holds %d bytes, budget %d", held, budget)
	}
	for i, s := range idle {
		if q := s.queued.Load(); q > catchUpQueue+s.minCost {
			t.Errorf("subscriber %d: %d queued while catching up, want at most %d", i, q, catchUpQueue)
		}
	}
	r := subscribe(t, h, name, Options{From: &start})
	for len(r.lines) < 100_000 {
		r.next()
		if held := h.catchUp.Load(); held > budget+batch {
			t.Fatalf("catch-up holds %d bytes, budget %d", held, budget)
		}
	}
	wantLines(t, r.lines, content)
	dropped := 0
	for i, s := range idle {
		if s.queued.Load() >= 0 {
			continue // it held no room anyone waited for
		}
		dropped++
		if err := ended(t, s); !errors.Is(err, ErrSlow) {
			t.Errorf("idle subscriber %d: %v, want ErrSlow", i, err)
		}
	}
	if dropped == 0 {
		t.Error("no idle subscriber dropped: the reader got room all the same?")
	}
	t.Logf("%d of %d idle subscribers dropped", dropped, len(idle))
	for _, s := range idle {
		s.Close()
	}
	testutil.WaitFor(t, "the budget to be free", timeout, func() bool { return h.catchUp.Load() == 0 })
}

// Asking for more last lines than one batch should hold (lines × their
// length beyond inlineLast) gives them through a cursor, bounded as a
// resume's catch-up: every one of the last n lines, then the lines written
// meanwhile, none lost or repeated at the seam, and no batch larger than a
// read block and a line.
func TestManyLastLinesCatchUp(t *testing.T) {
	const total, n = 20_000, 15_000
	long := strings.Repeat("x", 300)
	var content strings.Builder
	for i := range total { // 6 MB
		fmt.Fprintf(&content, "old %d %s\n", i, long)
	}
	want := strings.Join(strings.SplitAfter(content.String(), "\n")[total-n:total], "") + numbered("new", 0, 100)
	h := newTestHub(t, testConfig())
	for _, html := range []bool{false, true} {
		name := filepath.Join(t.TempDir(), "app.log")
		appendTo(t, name, content.String())
		r := subscribe(t, h, name, Options{Lines: n, HTML: html})
		appendTo(t, name, numbered("new", 0, 100))
		for len(r.lines) < n+100 {
			if b := r.next(); len(b.Raw) > readBlock+len(long)+64 {
				t.Fatalf("html=%v: a batch of %d bytes: the last lines came whole", html, len(b.Raw))
			}
		}
		wantLines(t, r.lines, want)
		r.s.Close()
	}
	testutil.WaitFor(t, "the catch-up budget to be free", timeout, func() bool { return h.catchUp.Load() == 0 })
}

// A resuming client whose next generation cannot be opened for want of
// descriptors waits for the next look instead of skipping it: its lines
// come, late, not lost. (Open fails with EMFILE for app.log.1 until the test
// lets it through, as a process out of descriptors would.)
func TestResumeWaitsForDescriptor(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "app.log")
	appendTo(t, name+".2", numbered("two", 0, 10))
	appendTo(t, name+".1", numbered("one", 0, 10))
	appendTo(t, name, numbered("now", 0, 10))
	f, err := os.Open(name + ".2")
	if err != nil {
		t.Fatal(err)
	}
	pos, err := PositionAt(f, int64(len(numbered("two", 0, 5))))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var starved atomic.Bool
	var refused atomic.Int32
	starved.Store(true)
	cfg := testConfig()
	cfg.PollInterval = 20 * time.Millisecond // the next look retries
	cfg.Open = func(p string) (*os.File, os.FileInfo, error) {
		if starved.Load() && strings.HasSuffix(p, ".1") {
			refused.Add(1)
			return nil, nil, &os.PathError{Op: "open", Path: p, Err: syscall.EMFILE}
		}
		return openFile(p)
	}
	h := newTestHub(t, cfg)
	r := subscribe(t, h, name, Options{From: &pos})
	r.until(5) // the rest of app.log.2
	// a few looks while app.log.1 cannot be opened: nothing after app.log.2
	testutil.WaitFor(t, "three tries to open app.log.1", timeout, func() bool { return refused.Load() >= 3 })
	select {
	case b := <-r.s.C:
		t.Fatalf("while app.log.1 cannot be opened, got %q (event %q)", b.Raw, b.Event)
	default:
	}
	starved.Store(false)
	r.until(25)
	wantLines(t, r.lines, numbered("two", 5, 10)+numbered("one", 0, 10)+numbered("now", 0, 10))
}
