package server

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// stream, follower, heartbeat and server of every test must be gone.
//
// Two goroutines are not ours and live as long as the process: the shared
// inotify tracker of github.com/nxadm/tail/watch (started once, never
// stopped) and the reader goroutine of the fsnotify.Watcher it owns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nxadm/tail/watch.(*InotifyTracker).run"),
		goleak.IgnoreAnyFunction("github.com/fsnotify/fsnotify.(*Watcher).readEvents"),
	)
}
