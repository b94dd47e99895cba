package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildDaemon builds cmd/logtaild as the Dockerfile does (static, trimmed)
// into a temporary folder and returns the binary's path; ldflags is passed
// on when not empty. With -short the test skips (CI runs without -short).
func BuildDaemon(t *testing.T, ldflags string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary (not with -short)")
	}
	bin := filepath.Join(t.TempDir(), "logtaild")
	args := []string{"build", "-trimpath"}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	build := exec.Command("go", append(args, "-o", bin, "github.com/logtail/logtail/cmd/logtaild")...)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
