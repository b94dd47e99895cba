package tailer

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine is left over.
//
// Two goroutines are not ours and are meant to live as long as the process:
// github.com/nxadm/tail/watch keeps one shared inotify tracker for the whole
// process (InotifyTracker.run, started once by a sync.Once the first time any
// follower watches a file, and never stopped), and the fsnotify.Watcher it
// owns runs its own reader goroutine (fsnotify.(*Watcher).readEvents) blocked
// in read(2) on the inotify descriptor. They exist once per process, not per
// follower or per test, so they are not a leak; everything else must be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nxadm/tail/watch.(*InotifyTracker).run"),
		goleak.IgnoreAnyFunction("github.com/fsnotify/fsnotify.(*Watcher).readEvents"),
	)
}
