package main

import (
	"os"
	"os/exec"
	"path/filepath"
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

// buildDaemon builds logtaild as the Dockerfile does (static, trimmed) into a
// temporary folder and returns the binary's path; ldflags is passed on when
// not empty. With -short, the tests that need it skip (CI runs without).
func buildDaemon(t *testing.T, ldflags string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary (not with -short)")
	}
	bin := filepath.Join(t.TempDir(), "logtaild")
	args := []string{"build", "-trimpath"}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	build := exec.Command("go", append(args, "-o", bin, ".")...)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
