package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersion: --version prints "logtail VERSION" and exits 0, VERSION as
// logtaild says its own: main.version when the build set it, else the
// module's version, else "(devel)".
func TestVersion(t *testing.T) {
	stdout, stderr, err := runCLI(t, env(), "--version")
	if want := "logtail " + versionString() + "\n"; err != nil || stderr != "" || stdout != want {
		t.Errorf("--version: %q %q %v, want %q", stdout, stderr, err, want)
	}
	bin := filepath.Join(t.TempDir(), "logtail")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version", "ws://ignored:1/x.log").Output()
	if err != nil || string(out) != "logtail v9.8.7-test\n" {
		t.Errorf("stamped --version: %q %v", out, err)
	}
	if !strings.Contains(usageText, "--version") {
		t.Error("the help does not list --version")
	}
}
