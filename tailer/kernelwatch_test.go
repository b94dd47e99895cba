package tailer

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// kernelWatches is the kernel's bound on inotify watches that
// TestKernelWatchLimit sets in its own user namespace.
const kernelWatches = 4

// TestKernelWatchLimit: at the kernel's own bound on inotify watches
// (fs.inotify.max_user_watches, here user.max_inotify_watches of a user
// namespace of the test's own, so that nothing else of the machine's user is
// touched), far below --max-watches, every file is still followed: those the
// kernel refuses a watch (ENOSPC) by polling, told once at info. Every line
// of every file comes, also across a rotation of a polled file, and a file
// takes a watch once one is freed.
func TestKernelWatchLimit(t *testing.T) {
	if os.Getenv("TAILER_IN_USERNS") == "" {
		unshare, err := exec.LookPath("unshare")
		if err == nil {
			err = exec.Command(unshare, "-Ur", "true").Run()
		}
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("unshare -Ur (util-linux, unprivileged user namespaces) is needed: %v", err)
			}
			t.Skipf("no user namespace to lower the kernel's bound in: %v", err)
		}
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		// the child sets the bound in its namespace, then runs this test
		script := fmt.Sprintf(`echo %d > /proc/sys/user/max_inotify_watches && exec "$@"`, kernelWatches)
		cmd := exec.Command(unshare, "-Ur", "sh", "-c", script, "sh", exe, "-test.run=^TestKernelWatchLimit$", "-test.v")
		cmd.Env = append(os.Environ(), "TAILER_IN_USERNS=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestKernelWatchLimit")) {
			t.Fatalf("in a user namespace with %d inotify watches: %v\n%s", kernelWatches, err, out)
		}
		t.Logf("in a user namespace with %d inotify watches:\n%s", kernelWatches, out)
		return
	}

	b, err := os.ReadFile("/proc/sys/user/max_inotify_watches")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n != kernelWatches {
		t.Fatalf("user.max_inotify_watches is %d, want %d", n, kernelWatches)
	}
	dir := t.TempDir()
	const files = 8
	names := make([]string, files)
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprintf("app%d.log", i))
		appendTo(t, names[i], "start\n")
	}
	logs := &countingHandler{n: map[string]int{}}
	cfg := testConfig()
	cfg.PollInterval = 20 * time.Millisecond
	cfg.Grace = 100 * time.Millisecond
	cfg.Logger = slog.New(logs)
	h := newTestHub(t, cfg) // MaxWatches: the default, 8192
	readers := make([]*reader, files)
	subs := make([]*Subscription, files)
	for i, name := range names {
		s, err := h.Subscribe(name, Options{Lines: 1})
		if err != nil {
			t.Fatal(err)
		}
		subs[i], readers[i] = s, &reader{t: t, s: s}
		readers[i].until(1)
	}
	if w := h.Watches(); w > kernelWatches {
		t.Fatalf("Watches() = %d with a kernel bound of %d", w, kernelWatches)
	}
	polled := 0
	for _, name := range names {
		polled += logs.count("no inotify watch; following the file by polling", name)
	}
	// the directory takes one watch, the first files the rest
	if want := files - (kernelWatches - 1); polled != want {
		t.Fatalf("%d files told as polled, want %d", polled, want)
	}
	round := func(label string) {
		t.Helper()
		for _, name := range names {
			appendTo(t, name, numbered(label, 0, 3))
		}
		for i, r := range readers {
			n := len(r.lines) + 3
			if got := strings.Join(r.until(n)[n-3:], ""); got != numbered(label, 0, 3) {
				t.Fatalf("file %d: %q", i, got)
			}
		}
	}
	round("first")

	// the last file is polled: rotated, the rest of the old file, then the
	// new one
	last := names[files-1]
	old, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := os.Rename(last, last+".1"); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(old, "renamed\n")
	appendTo(t, last, "new\n")
	r := readers[files-1]
	n := len(r.lines) + 2
	if got := strings.Join(r.until(n)[n-2:], ""); got != "renamed\nnew\n" {
		t.Fatalf("after a rotation of a polled file: %q", got)
	}
	round("after rotation")

	// a watched file leaves: a polled one takes its watch
	subs[1].Close()
	testutil.WaitFor(t, "a polled file to take the freed watch", 10*time.Second, func() bool {
		return h.Watches() == kernelWatches
	})
	for _, s := range subs {
		s.Close()
	}
}
