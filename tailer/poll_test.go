package tailer

import (
	"strings"
	"testing"
	"time"
)

// TestPollBackoff: the poll's interval, as checks come. It backs off only
// while the file and its directory are watched on a local file system, and
// only as long as polls find nothing; an event brings it back, and a poll
// that finds what no event told stops it for good.
func TestPollBackoff(t *testing.T) {
	const base = time.Second
	type step struct {
		polling, moved bool
		pending        bool // an event is waiting for the follower
		want           time.Duration
	}
	quiet := func(want time.Duration) step { return step{polling: true, want: want} }
	backoff := []step{quiet(2 * base), quiet(4 * base), quiet(8 * base), quiet(16 * base), quiet(30 * base), quiet(30 * base)}
	flat := []step{quiet(base), quiet(base), quiet(base)}
	tests := []struct {
		name  string
		setup func(f *follower)
		steps []step
	}{
		{"watched", func(*follower) {}, backoff},
		{"watched, waiting for the name", func(f *follower) { f.cur, f.watcher = nil, nil }, backoff},
		{"an event", func(*follower) {}, append(backoff[:3:3],
			step{want: base}, quiet(2*base))},
		{"a poll finds what an event is about to tell", func(*follower) {}, append(backoff[:3:3],
			step{polling: true, moved: true, pending: true, want: base}, quiet(2*base))},
		{"a poll finds what no event told", func(*follower) {}, append(backoff[:3:3],
			step{polling: true, moved: true, want: base}, quiet(base), quiet(base))},
		{"no file watch", func(f *follower) { f.watcher = nil }, flat},
		{"file watch dropped", func(f *follower) { f.watcher.gone.Store(true) }, flat},
		{"no directory watch", func(f *follower) { f.names = nil }, flat},
		{"directory gone", func(f *follower) { f.names.dir.gone.Store(true) }, flat},
		{"remote file system", func(f *follower) { f.remote = true }, flat},
		{"renamed-away generation", func(f *follower) { f.chain = []*source{{}} },
			[]step{quiet(graceTick), quiet(graceTick)}},
	}
	h := &Hub{cfg: Config{PollInterval: base}.withDefaults()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFollower(h, "app.log", nil)
			f.pollEvery = base
			f.cur = &source{}
			f.watcher = &fileWatch{}
			f.names = &nameWatch{dir: &watchedDir{}}
			tc.setup(f)
			for i, st := range tc.steps {
				f.polling = st.polling
				if st.pending {
					f.wake()
				}
				if got := f.nextPoll(st.moved); got != st.want {
					t.Fatalf("step %d (%+v): next poll in %v, want %v", i, st, got, st.want)
				}
				f.mb.mu.Lock() // handled
				f.mb.woken = false
				f.mb.mu.Unlock()
			}
		})
	}
}

// TestLongLineLetGo: the room a long unfinished line took is given back once
// the line ends, not held by a follower that goes idle after it.
func TestLongLineLetGo(t *testing.T) {
	src := &source{sp: splitter{limit: 1 << 20}}
	long := strings.Repeat("x", 100<<10)
	if out := src.take([]byte(long)); out.n != 0 {
		t.Fatalf("%d lines from an unfinished one", out.n)
	}
	if c := cap(src.sp.partial); c < len(long) {
		t.Fatalf("an unfinished line of %d bytes held in %d", len(long), c)
	}
	out := src.take([]byte("\nshort"))
	if out.n != 1 || string(out.raw) != long+"\n" {
		t.Fatalf("got %d lines, %d bytes", out.n, len(out.raw))
	}
	if c := cap(src.sp.partial); c > keepPartial {
		t.Fatalf("%d bytes of room kept for an unfinished line of %d", c, len(src.sp.partial))
	}
	if out := src.take([]byte(" line\n")); string(out.raw) != "short line\n" {
		t.Fatalf("the next line: %q", out.raw)
	}
	if c := cap(src.sp.partial); c > keepPartial {
		t.Fatalf("%d bytes of room kept with no unfinished line", c)
	}
}
