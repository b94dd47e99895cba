package tailer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// signal is a WatchDir callback that never blocks, and the channel it signals.
func signal() (func(), chan struct{}) {
	c := make(chan struct{}, 1)
	return func() {
		select {
		case c <- struct{}{}:
		default:
		}
	}, c
}

// waitSignal waits for c, failing after timeout.
func waitSignal(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(timeout):
		t.Fatalf("no call of changed within %v after %s", timeout, what)
	}
}

func TestWatchDir(t *testing.T) {
	dir := t.TempDir()
	h := newTestHub(t, testConfig())
	changed, c := signal()
	stop, err := h.WatchDir(dir, changed)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if n := h.Watches(); n != 1 {
		t.Fatalf("Watches() = %d, want 1", n)
	}
	name := filepath.Join(dir, "a.log")
	steps := []struct {
		what string
		do   func() error
	}{
		{"a file created", func() error { return os.WriteFile(name, []byte("x\n"), 0o644) }},
		{"a file renamed", func() error { return os.Rename(name, name+".1") }},
		{"a file removed", func() error { return os.Remove(name + ".1") }},
		{"a directory created", func() error { return os.Mkdir(filepath.Join(dir, "sub"), 0o755) }},
		{"a file moved in", func() error {
			other := filepath.Join(t.TempDir(), "b.log")
			if err := os.WriteFile(other, nil, 0o644); err != nil {
				return err
			}
			return os.Rename(other, filepath.Join(dir, "b.log"))
		}},
	}
	for _, st := range steps {
		select { // a call for an earlier step, coalesced or not, is not this one's
		case <-c:
		default:
		}
		if err := st.do(); err != nil {
			t.Fatal(err)
		}
		waitSignal(t, c, st.what)
	}

	// a second watch of the directory shares its inotify watch
	changed2, c2 := signal()
	stop2, err := h.WatchDir(dir+"/", changed2)
	if err != nil {
		t.Fatal(err)
	}
	if n := h.Watches(); n != 1 {
		t.Fatalf("Watches() = %d with two watches of one directory, want 1", n)
	}
	if err := os.WriteFile(filepath.Join(dir, "c.log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, c, "a file created, for the first watch")
	waitSignal(t, c2, "a file created, for the second watch")
	stop2()
	stop2() // a no-op
	if n := h.Watches(); n != 1 {
		t.Fatalf("Watches() = %d after one of two stopped, want 1", n)
	}
	stop()
	if n := h.Watches(); n != 0 {
		t.Fatalf("Watches() = %d after both stopped, want 0", n)
	}
}

func TestWatchDirRefused(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.log")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.MaxWatches = 1
	h := newTestHub(t, cfg)
	for _, tc := range []struct{ name, dir string }{
		{"missing", filepath.Join(dir, "none")},
		{"not a directory", file},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if stop, err := h.WatchDir(tc.dir, func() {}); err == nil {
				stop()
				t.Fatalf("WatchDir(%s): no error", tc.dir)
			}
			if n := h.Watches(); n != 0 {
				t.Fatalf("Watches() = %d after a refusal", n)
			}
		})
	}
	stop, err := h.WatchDir(dir, func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// beyond MaxWatches: refused, but the directory already watched is not a new watch
	if stop, err := h.WatchDir(t.TempDir(), func() {}); !errors.Is(err, errWatchLimit) {
		if err == nil {
			stop()
		}
		t.Fatalf("WatchDir beyond MaxWatches: %v, want %v", err, errWatchLimit)
	}
	stopAgain, err := h.WatchDir(dir, func() {})
	if err != nil {
		t.Fatalf("WatchDir of the directory already watched, at MaxWatches: %v", err)
	}
	stopAgain()
}

// TestWatchDirRemoved: the directory itself goes; its watcher is told.
func TestWatchDirRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := newTestHub(t, testConfig())
	changed, c := signal()
	stop, err := h.WatchDir(dir, changed)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, c, "the directory was removed")
	// a new directory at the path gets a watch of its own
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	changed2, c2 := signal()
	stop2, err := h.WatchDir(dir, changed2)
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	if err := os.WriteFile(filepath.Join(dir, "a.log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, c2, "a file was created in the new directory")
}

// TestWatchDirClose: Close stops the watches still held; none after it.
func TestWatchDirClose(t *testing.T) {
	h := NewHub(testConfig())
	stop, err := h.WatchDir(t.TempDir(), func() {})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if n := h.Watches(); n != 0 {
		t.Fatalf("Watches() = %d after Close", n)
	}
	stop() // a no-op now
	if _, err := h.WatchDir(t.TempDir(), func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("WatchDir after Close: %v, want ErrClosed", err)
	}
}

// ExampleHub_WatchDir: learning promptly that files came into a directory.
func ExampleHub_WatchDir() {
	dir, err := os.MkdirTemp("", "logs")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	h := NewHub(Config{Open: openFile})
	defer h.Close()

	changed := make(chan struct{}, 1)
	stop, err := h.WatchDir(dir, func() {
		select { // never block: one pending call is enough to list again
		case changed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return // no watch to be had: list the directory every PollInterval instead
	}
	defer stop()

	os.WriteFile(filepath.Join(dir, "app.log"), []byte("hello\n"), 0o644)
	<-changed
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		fmt.Println(e.Name())
	}
	// Output: app.log
}
