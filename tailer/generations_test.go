package tailer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wire"
)

// events collects a subscription's lines and events in order, as a client
// sees them: "gap", "rotated", "truncated" stand among the lines.
type events struct {
	t     testing.TB
	s     *Subscription
	items []string // lines (with their newline) and events
	lines int
	last  wire.Position
}

func (e *events) next() *Batch {
	e.t.Helper()
	select {
	case b, ok := <-e.s.C:
		if !ok {
			e.t.Fatalf("subscription ended: %v", e.s.Err())
		}
		e.s.Release(b)
		if b.Event != "" {
			e.items = append(e.items, b.Event)
		}
		for l := range bytes.Lines(b.Raw) {
			e.items = append(e.items, string(l))
			e.lines++
		}
		e.last = b.End
		return b
	case <-time.After(timeout):
		e.t.Fatalf("no batch within %v; have %d lines: %q", timeout, e.lines, e.items[max(0, len(e.items)-5):])
		return nil
	}
}

func (e *events) until(n int) {
	e.t.Helper()
	for e.lines < n {
		e.next()
	}
}

func (e *events) linesOnly() string {
	var b strings.Builder
	for _, it := range e.items {
		if strings.HasSuffix(it, "\n") {
			b.WriteString(it)
		}
	}
	return b.String()
}

func subscribeEvents(t testing.TB, h *Hub, name string, opt Options) *events {
	t.Helper()
	s, err := h.Subscribe(name, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e := &events{t: t, s: s}
	e.next() // where it starts
	return e
}

// TestHubRotationBurst: rotations follow each other faster than a follower
// can look (each file created, written and renamed away in a burst): every
// file is read, to its end, in the order it was written, whatever the
// rotation names.
func TestHubRotationBurst(t *testing.T) {
	for _, tt := range []struct {
		name   string
		rotate func(name string, i int) error // moves the file under name away, the i-th time
	}{
		{"numbered shift", func(name string, i int) error {
			for k := i; k >= 1; k-- {
				if err := os.Rename(fmt.Sprintf("%s.%d", name, k), fmt.Sprintf("%s.%d", name, k+1)); err != nil && !os.IsNotExist(err) {
					return err
				}
			}
			return os.Rename(name, name+".1")
		}},
		{"dateext", func(name string, i int) error { return os.Rename(name, fmt.Sprintf("%s-202612%02d", name, i)) }},
		{"lumberjack", func(name string, i int) error {
			dir, base := filepath.Split(name)
			stem := strings.TrimSuffix(base, ".log")
			return os.Rename(name, filepath.Join(dir, fmt.Sprintf("%s-2026-12-04T15-50-%02d.000.log", stem, i)))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "app.log")
			appendTo(t, name, "")
			h := newTestHub(t, testConfig())
			e := subscribeEvents(t, h, name, Options{})
			var want strings.Builder
			for i := 1; i <= 8; i++ {
				lines := numbered(fmt.Sprintf("gen %d", i), 0, 200)
				want.WriteString(lines)
				appendTo(t, name, lines)
				if err := tt.rotate(name, i); err != nil {
					t.Fatal(err)
				}
			}
			appendTo(t, name, "last\n")
			want.WriteString("last\n")
			e.until(8*200 + 1)
			if got := e.linesOnly(); got != want.String() {
				t.Fatalf("lines out of order or lost: got %d bytes, want %d", len(got), want.Len())
			}
			for _, it := range e.items {
				if it == wire.EventGap {
					t.Errorf("gap announced though every file is on disk: %q", e.items)
				}
			}
		})
	}
}

// TestHubRemovedBeforeRead: a file that came under the name and was removed
// before the follower could open it is announced by a gap event, before the
// lines of the next file; a file that moved while being opened is not taken
// for a lost one. The follower is held in its open of the name (the test's
// Open) while the file is replaced.
func TestHubRemovedBeforeRead(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, name, "a 0\n")
	var mu sync.Mutex
	var hold chan struct{} // set: the next open of the name waits for it
	held := make(chan struct{}, 1)
	cfg := testConfig()
	cfg.Open = func(p string) (*os.File, os.FileInfo, error) {
		mu.Lock()
		wait := hold
		if p == name {
			hold = nil
		}
		mu.Unlock()
		if wait != nil && p == name {
			held <- struct{}{}
			<-wait
		}
		return openFile(p)
	}
	h := newTestHub(t, cfg)
	e := subscribeEvents(t, h, name, Options{})

	release := make(chan struct{})
	mu.Lock()
	hold = release
	mu.Unlock()
	if err := os.Rename(name, name+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, name, numbered("b", 0, 3)) // B: its open is held
	<-held
	if err := os.Remove(name); err != nil { // B gone, never read
		t.Fatal(err)
	}
	appendTo(t, name, numbered("c", 0, 2)) // C
	close(release)

	e.until(2)
	got := strings.Join(e.items, "")
	if strings.Count(got, wire.EventGap) != 1 || !strings.HasSuffix(got, wire.EventGap+wire.EventRotated+"c 0\nc 1\n") {
		t.Fatalf("want one gap before C's lines, got %q", e.items)
	}
}

// TestHubCopytruncateUnread: copytruncate while the follower had not read
// the last lines (its subscriber's queue was full): they come from the
// copy, before the truncated file's new lines; nothing lost or repeated.
func TestHubCopytruncateUnread(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, name, "")
	cfg := testConfig()
	cfg.QueueBytes = 256 << 10
	cfg.StallAfter = time.Minute // the reader below is slow, not stalled
	h := newTestHub(t, cfg)
	e := subscribeEvents(t, h, name, Options{})

	const n = 20000
	old := numbered("old line that is long enough to fill the queue", 0, n) // about 1.1 MB
	appendTo(t, name, old)
	e.next() // the follower has read some and waits for the queue to drain
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name+".1", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(name, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, name, numbered("new", 0, 3))
	e.until(n + 3)
	if got, want := e.linesOnly(), old+numbered("new", 0, 3); got != want {
		t.Fatalf("got %d lines (%d bytes), want %d bytes", e.lines, len(got), len(want))
	}
	if !strings.Contains(strings.Join(e.items, ""), wire.EventTruncated) {
		t.Errorf("no truncated event")
	}
}

// TestHubResumeGoneReplaced: while the client was away (the hub closed, as
// by a restart), another file came under the name: a file renamed over it,
// or a symlink's new target. That file came after the client's all the
// same, though it was made (born) before the client's last position, and
// is read from its start. The client's file is found where it still is
// (an old target next to the new one); only when it is gone, a gap says so.
func TestHubResumeGoneReplaced(t *testing.T) {
	for _, tt := range []struct {
		name    string
		symlink bool
		keep    bool // the old target stays
	}{
		{"renamed over", false, false},
		{"symlink, old target removed", true, false},
		{"symlink, old target kept", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "app.log")
			a, b := name, filepath.Join(dir, "next")
			if tt.symlink {
				if err := os.Mkdir(filepath.Join(dir, "targets"), 0o755); err != nil {
					t.Fatal(err)
				}
				a, b = filepath.Join(dir, "targets", "a.log"), filepath.Join(dir, "targets", "b.log")
				appendTo(t, a, "")
				if err := os.Symlink("targets/a.log", name); err != nil {
					t.Fatal(err)
				}
			}
			appendTo(t, a, "")
			h := NewHub(testConfig())
			e := subscribeEvents(t, h, name, Options{})
			appendTo(t, b, "b 0\nb 1\n")
			bst, err := statPath(b)
			if err != nil {
				t.Fatal(err)
			}
			// A is written until its change time, which the position
			// carries, is past B's birth (file times tick coarsely)
			n := 0
			for {
				appendTo(t, a, fmt.Sprintf("a %d\n", n))
				n++
				ast, err := statPath(a)
				if err != nil {
					t.Fatal(err)
				}
				if ast.ctime > bst.born {
					break
				}
			}
			e.until(n)
			pos := e.last
			h.Close()

			if tt.symlink {
				if err := os.Symlink("targets/b.log", name+".tmp"); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(name+".tmp", name); err != nil {
					t.Fatal(err)
				}
				if !tt.keep {
					if err := os.Remove(a); err != nil {
						t.Fatal(err)
					}
				}
			} else if err := os.Rename(b, name); err != nil { // A unlinked
				t.Fatal(err)
			}
			h2 := newTestHub(t, testConfig())
			r := subscribeEvents(t, h2, name, Options{From: &pos})
			appendTo(t, name, "b 2\n")
			r.until(3)
			if got, want := r.linesOnly(), "b 0\nb 1\nb 2\n"; got != want {
				t.Fatalf("after resuming from %s: got %q, want %q (items %q)", pos, got, want, r.items)
			}
			gaps := strings.Count(strings.Join(r.items, "|"), wire.EventGap)
			if want := map[bool]int{true: 0, false: 1}[tt.keep]; gaps != want {
				t.Errorf("%d gap events, want %d: %q", gaps, want, r.items)
			}
		})
	}
}

// TestHubResumeGoneBehind: the client was behind, still reading a file
// renamed away (the program wrote to it after the next file was made),
// when the daemon stopped; meanwhile that file was removed by the next
// rotation. The next file, now rotated too, is read before the one under
// the name: nothing lost after the gap.
func TestHubResumeGoneBehind(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "app.log")
	appendTo(t, name, "")
	h := NewHub(testConfig())
	e := subscribeEvents(t, h, name, Options{})
	appendTo(t, name, "a 0\n")
	e.until(1)
	if err := os.Rename(name, name+".1"); err != nil { // A
		t.Fatal(err)
	}
	// B is born in a later clock tick than A: files born in one tick are
	// taken for older ones (they cannot be told apart)
	ast, err := statPath(name + ".1")
	if err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(t.TempDir(), "probe")
	testutil.WaitFor(t, "the file clock to tick", timeout, func() bool {
		os.Remove(probe)
		appendTo(t, probe, "")
		st, err := statPath(probe)
		return err == nil && st.born > ast.born
	})
	appendTo(t, name, "b 0\n") // B, born now
	bst, err := statPath(name)
	if err != nil {
		t.Fatal(err)
	}
	// the program writes to A until it reopens: A's change time, which
	// the client's position carries, is past B's birth
	n := 1
	for {
		appendTo(t, name+".1", fmt.Sprintf("a %d\n", n))
		n++
		ast, err := statPath(name + ".1")
		if err != nil {
			t.Fatal(err)
		}
		if ast.ctime > bst.born {
			break
		}
	}
	// the client has A's lines, and leaves right after the last of them
	// (B's may have come before A's last ones: A is read for its grace)
	var pos wire.Position
	for seen := 1; seen < n; { // "a 0" came before the rename
		b := e.next()
		if b.Lines > 0 && b.End.Ino == ast.id.ino {
			seen += b.Lines
			pos = b.End
		}
	}
	h.Close()

	// rotation while the daemon is down (keep 1): A removed, B to .1
	if err := os.Rename(name, name+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, name, "c 0\n")
	h2 := newTestHub(t, testConfig())
	r := subscribeEvents(t, h2, name, Options{From: &pos})
	appendTo(t, name, "c 1\n")
	r.until(3)
	if got, want := r.linesOnly(), "b 0\nc 0\nc 1\n"; got != want {
		t.Fatalf("after resuming from %s (B born %d): got %q, want %q (items %q)", pos, bst.born, got, want, r.items)
	}
}

// TestHubResumeCopiedThenRotated: the client's position is at the start of
// a new generation, which holds nothing to tell its copies by. While the
// daemon is down, lines are written to it, copytruncate copies them away
// and empties it, and a rotation then moves it and its copy on. The copy
// has an older rotated name than the file: it is read, with a truncated
// event, before the file and the next one. If the copy is compressed before
// the client comes back, the loss is announced: the file, empty but changed
// since the position, was cut. (The loss checker's seed 10 lost those lines
// silently.)
func TestHubResumeCopiedThenRotated(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		t.Run(fmt.Sprintf("compressed=%v", compressed), func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "app.log")
			appendTo(t, name, "")
			h := NewHub(testConfig())
			e := subscribeEvents(t, h, name, Options{})
			pos := e.last // the start of app.log, where the follower stands
			xst, err := statPath(name)
			if err != nil {
				t.Fatal(err)
			}
			h.Close()

			appendTo(t, name, numbered("x", 0, 5))
			// copytruncate: the copy is born after the file (times tick
			// coarsely)
			cp := name + ".1"
			for {
				appendTo(t, cp, numbered("x", 0, 5))
				st, err := statPath(cp)
				if err != nil {
					t.Fatal(err)
				}
				if st.born == 0 || st.born > xst.born && st.born >= pos.Asof {
					break
				}
				if err := os.Remove(cp); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Truncate(name, 0); err != nil {
				t.Fatal(err)
			}
			// numbered rotation, then maybe compression of the copy
			if err := os.Rename(cp, name+".2"); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(name, name+".1"); err != nil {
				t.Fatal(err)
			}
			if compressed {
				if err := os.Rename(name+".2", name+".2.gz"); err != nil {
					t.Fatal(err)
				}
			}
			appendTo(t, name, "n 0\n")

			h2 := newTestHub(t, testConfig())
			r := subscribeEvents(t, h2, name, Options{From: &pos})
			want := numbered("x", 0, 5) + "n 0\n"
			if compressed {
				want = "n 0\n"
			}
			r.until(strings.Count(want, "\n"))
			if got := r.linesOnly(); got != want {
				t.Fatalf("after resuming from %s: got %q, want %q (items %q)", pos, got, want, r.items)
			}
			if !slices.Contains(r.items, wire.EventTruncated) {
				t.Errorf("no truncated event: %q", r.items)
			}
		})
	}
}
