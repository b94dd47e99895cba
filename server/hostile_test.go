package server

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"

	"github.com/logtail/logtail/wsconn"
)

// Hostile and broken input (issue 7): each case checks the answer the daemon
// gives, and TestHostileAllAtOnce throws them all at one daemon and checks it
// still serves and holds no more goroutines or descriptors than before. The
// cases are in hostile_frames_test.go, hostile_query_test.go,
// hostile_files_test.go and hostile_clients_test.go.

// checkServes reads a file normally: the daemon still serves.
func checkServes(t *testing.T, td *testDaemon, p string) {
	t.Helper()
	c := dialT(t, td, p, "lines=1&format=text")
	got, err := testutil.ReadAll(t, c)
	c.Close()
	if !wsconn.IsClose(err, 1000) || got == "" {
		t.Fatalf("a normal client afterwards: %q, %v", got, err)
	}
}

// warmUp follows a file once, so that what the daemon starts once and
// keeps (the shared inotify watcher) is counted in the baseline.
func warmUp(t *testing.T, td *testDaemon) {
	t.Helper()
	p := td.write("warm-up.log", "x\n")
	c := dialT(t, td, p, "lines=1&tail=1")
	readLines(t, c, 1)
	c.Close()
	checkServes(t, td, p)
	testutil.WaitFor(t, "the follower to stop", waitForLimit, func() bool { return td.d.hub.Followers() == 0 })
	settle(t)
}

// settle waits for a freshly started daemon's goroutines to be up.
func settle(t *testing.T) {
	t.Helper()
	prev := -1
	for n := runtime.NumGoroutine(); n != prev; n = runtime.NumGoroutine() {
		prev = n
		// the same count 50 ms apart is what settled means: no event
		// marks the last goroutine that starts or ends (net/http's, the
		// runtime's), so the sleep is the window looked through
		time.Sleep(50 * time.Millisecond)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// backToBaseline polls until goroutines and descriptors are back to at most
// what they were (other tests' leftovers may settle meanwhile).
func backToBaseline(t *testing.T, g0, fd0 int) {
	t.Helper()
	var g, fd int
	if !testutil.Eventually(15*time.Second, func() bool {
		g, fd = runtime.NumGoroutine(), openFDs(t)
		return g <= g0 && fd <= fd0
	}) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("goroutines %d (baseline %d), descriptors %d (baseline %d)\n%s", g, g0, fd, fd0, buf)
	}
	t.Logf("goroutines %d (baseline %d), descriptors %d (baseline %d)", g, g0, fd, fd0)
}

// TestHostileAllAtOnce throws every case at one daemon at the same time;
// then a normal client is served and the daemon holds no more goroutines
// or descriptors than before.
func TestHostileAllAtOnce(t *testing.T) {
	// pings often, but with room for clients that pause between reads
	td := startDaemon(t, allowOrigins, func(c *Config) {
		c.HeartbeatInterval, c.HeartbeatTimeout = 200*time.Millisecond, 2*time.Second
	})
	p := td.write("app.log", numbered(1, 10))
	warmUp(t, td)
	g0, fd0 := runtime.NumGoroutine(), openFDs(t)

	closeHalfOpen := halfOpen(t, td, 200)
	t.Run("all", func(t *testing.T) {
		t.Run("frames", func(t *testing.T) {
			t.Parallel()
			for i, tc := range frameCases {
				t.Run(tc.name, func(t *testing.T) { t.Parallel(); runFrameCase(t, td, p, i) })
			}
		})
		t.Run("origins", func(t *testing.T) { t.Parallel(); runOriginCases(t, td, p) })
		t.Run("queries", func(t *testing.T) { t.Parallel(); runQueryCases(t, td, p) })
		t.Run("files", func(t *testing.T) { t.Parallel(); oddFiles(t, td) })
		t.Run("never reads", func(t *testing.T) { t.Parallel(); neverReads(t, td, "busy.log") })
		t.Run("normal client meanwhile", func(t *testing.T) {
			t.Parallel()
			c := dialT(t, td, p, "lines=2&tail=1&format=text")
			readLines(t, c, 2)
			td.write("app.log", "served\n")
			if got := readLines(t, c, 1)[0]; got != "served\n" {
				t.Errorf("got %q", got)
			}
		})
	})
	closeHalfOpen()
	checkServes(t, td, p)
	testutil.WaitFor(t, "followers to stop", waitForLimit, func() bool { return td.d.hub.Followers() == 0 })
	backToBaseline(t, g0, fd0)
}

// dialT is td.dial closed at the end of t, not of the whole test: the
// baseline checks count the client's descriptors too.
func dialT(t *testing.T, td *testDaemon, path, query string) *wsconn.Client {
	t.Helper()
	return testutil.DialOK(t, td.url(path, query))
}
