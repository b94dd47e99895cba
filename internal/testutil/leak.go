package testutil

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// VerifyNoLeaks is a package's TestMain: it runs the tests and, when they
// pass, fails them (exit status 1) if any goroutine outlives them: every
// stream, follower, heartbeat, server, retry loop and output goroutine of
// every test must be gone. Then it calls each of after, in order, whatever
// the outcome (to remove what TestMain set up: os.Exit skips deferred
// calls), and exits with the tests' status.
//
// Two goroutines are not ours and are meant to live as long as the process,
// so they are not counted: github.com/nxadm/tail/watch keeps one shared
// inotify tracker for the whole process (InotifyTracker.run, started by a
// sync.Once the first time any follower watches a file, and never stopped),
// and the fsnotify.Watcher it owns runs its own reader goroutine
// (fsnotify.(*Watcher).readEvents) blocked in read(2) on the inotify
// descriptor. They exist once per process, not per follower or per test;
// everything else must be gone.
func VerifyNoLeaks(m *testing.M, after ...func()) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nxadm/tail/watch.(*InotifyTracker).run"),
		goleak.IgnoreAnyFunction("github.com/fsnotify/fsnotify.(*Watcher).readEvents"),
		goleak.Cleanup(func(code int) {
			for _, f := range after {
				f()
			}
			os.Exit(code)
		}),
	)
}
