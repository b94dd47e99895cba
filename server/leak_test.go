package server

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wsconn"
)

// streamFDs counts the descriptors a stream could leak: sockets, files under
// root, and inotify/epoll instances. The Go runtime's and the test binary's
// own (cgroup files for GOMAXPROCS, pipes, /dev/null) are left out.
func streamFDs(t *testing.T, root string) int {
	t.Helper()
	n := 0
	for target, count := range fdTargets(t) {
		if target == "socket" || target == "anon_inode" || strings.HasPrefix(target, root) {
			n += count
		}
	}
	return n
}

// TestThousandStreamsLeakNothing opens and closes 1000 followed streams on
// one file: one follower serves them all, and afterwards the goroutines and
// descriptors are back to what they were.
func TestThousandStreamsLeakNothing(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "a\n")
	// one followed stream first, so that pools and the process-wide inotify
	// instance (nxadm/tail's shared watcher) exist before counting
	warm := td.dial(p, "lines=1&tail=1")
	readLines(t, warm, 1)
	warm.Close()
	testutil.WaitFor(t, "a quiet daemon", waitForLimit, func() bool { return td.d.hub.Followers() == 0 })
	goroutines, fds, watches := runtime.NumGoroutine(), streamFDs(t, td.root), inotifyWatches(t)

	const n = 1000
	clients := make([]*wsconn.Client, 0, n)
	for range n {
		c := td.dial(p, "lines=1&tail=1&format=text")
		clients = append(clients, c)
	}
	for _, c := range clients[:10] { // they are live
		if got := readLines(t, c, 1); got[0] != "a\n" {
			t.Fatalf("got %q", got)
		}
	}
	if f := td.d.hub.Followers(); f != 1 {
		t.Errorf("%d followers for one file, want 1", f)
	}
	// An idle stream is its parked reader and nothing else: no writer
	// goroutine waits for lines (the follower and its watch add the rest).
	if !testutil.Eventually(waitForLimit, func() bool { return runtime.NumGoroutine() <= goroutines+n+4 }) {
		t.Errorf("%d goroutines for %d idle streams (%d before): want at most one a stream", runtime.NumGoroutine(), n, goroutines)
	}
	// one on the file (its changes) and one on its directory (files
	// coming under its name), however many streams
	if w := inotifyWatches(t); w != watches+2 {
		t.Errorf("%d inotify watches with %d streams on one file, want %d", w, n, watches+2)
	}
	for _, c := range clients {
		c.Close()
	}
	testutil.WaitFor(t, "the follower to stop", waitForLimit, func() bool { return td.d.hub.Followers() == 0 })
	testutil.WaitFor(t, "goroutines back to the start", waitForLimit, func() bool { return runtime.NumGoroutine() <= goroutines })
	if !testutil.Eventually(waitForLimit, func() bool { return streamFDs(t, td.root) <= fds }) {
		t.Errorf("descriptors: %d before, %d after; now open: %v", fds, streamFDs(t, td.root), fdTargets(t))
	}
	testutil.WaitFor(t, "inotify watches back to the start", waitForLimit, func() bool { return inotifyWatches(t) == watches })
	t.Logf("%d streams opened and closed: goroutines %d → %d, descriptors %d → %d, inotify watches %d → %d",
		n, goroutines, runtime.NumGoroutine(), fds, streamFDs(t, td.root), watches, inotifyWatches(t))
}

// TestFollowSymlinkSwitch follows a name that is a symlink, switched to a
// new target inside the root (as some log setups rotate).
func TestFollowSymlinkSwitch(t *testing.T) {
	td := startDaemon(t)
	td.write("a.log", "a1\n")
	td.write("b.log", "b1\n")
	cur := filepath.Join(td.root, "current.log")
	if err := os.Symlink("a.log", cur); err != nil {
		t.Fatal(err)
	}
	c := td.dial(cur, "lines=1&tail=1&format=json")
	if got, _, _ := collect(t, c, 1); got[0] != "a1" {
		t.Fatalf("first line %q", got)
	}
	td.write("a.log", "a2\n")
	if got, _, _ := collect(t, c, 1); got[0] != "a2" {
		t.Fatalf("followed %q", got)
	}
	// switch atomically: a new link renamed over the old one
	tmp := filepath.Join(td.root, "current.tmp")
	os.Symlink("b.log", tmp)
	if err := os.Rename(tmp, cur); err != nil {
		t.Fatal(err)
	}
	td.write("b.log", "b2\n")
	got, events, _ := collect(t, c, 2)
	if strings.Join(got, " ") != "b1 b2" || len(events) != 1 || events[0] != "rotated@0" {
		t.Errorf("after the switch: lines %q, events %v; want b1 b2 after a rotated event", got, events)
	}
}

// fdTargets names what the open descriptors are, for a failure message.
func fdTargets(t *testing.T) map[string]int {
	entries, _ := os.ReadDir("/proc/self/fd")
	kinds := map[string]int{}
	for _, e := range entries {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if i := strings.IndexByte(target, ':'); i > 0 && !strings.HasPrefix(target, "/") {
			target = target[:i]
		}
		kinds[target]++
	}
	return kinds
}

// inotifyWatches counts this process's inotify watches (the "inotify wd:"
// lines of the inotify descriptors' fdinfo).
func inotifyWatches(t *testing.T) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc/self/fdinfo")
	n := 0
	for _, e := range entries {
		info, err := os.ReadFile(filepath.Join("/proc/self/fdinfo", e.Name()))
		if err == nil {
			n += strings.Count(string(info), "inotify wd:")
		}
	}
	return n
}
