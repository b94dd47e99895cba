package tailer

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIdleFollowers measures, and reports without asserting, what followed
// files cost while nothing is written to them: TAILER_IDLE=1 go test
// ./tailer -run TestIdleFollowers -v (TAILER_IDLE_FILES files, default 1000,
// each followed by one subscription, idle for TAILER_IDLE_SECONDS, default 5,
// measured after TAILER_IDLE_SETTLE seconds, default 2; a CPU profile of
// the idle time to TAILER_IDLE_CPUPROFILE, and of the heap to
// TAILER_IDLE_HEAPPROFILE, if set).
// It reports the process's CPU (user+sys) as a share of one core, the Go heap
// and stacks each followed file holds, and the inotify watches in use. It
// uses nothing newer than the hub's public API, so that it runs unchanged on
// an older tree for a before/after comparison.
func TestIdleFollowers(t *testing.T) {
	if os.Getenv("TAILER_IDLE") == "" {
		t.Skip("a measurement: set TAILER_IDLE=1 to run it")
	}
	files := envInt(t, "TAILER_IDLE_FILES", 1000)
	idle := time.Duration(envInt(t, "TAILER_IDLE_SECONDS", 5)) * time.Second
	settle := time.Duration(envInt(t, "TAILER_IDLE_SETTLE", 2)) * time.Second

	if os.Getenv("TAILER_IDLE_HEAPPROFILE") != "" {
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1 // every allocation
	}
	dir := t.TempDir()
	names := make([]string, files)
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprintf("app-%04d.log", i))
		appendTo(t, names[i], numbered("line", 0, 20))
	}
	watches0 := inotifyWatches(t)
	heap0, stack0 := liveMemory()
	goroutines0 := runtime.NumGoroutine()

	h := NewHub(Config{Open: openFile}) // the daemon's defaults: PollInterval 1s
	subs := make([]*Subscription, files)
	for i, name := range names {
		s, err := h.Subscribe(name, Options{Lines: 10})
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = s
		s.Release(<-s.C) // the last lines
	}
	defer func() {
		for _, s := range subs {
			s.Close()
		}
		h.Close()
	}()
	// start-up work (first looks, timers) is not measured
	time.Sleep(settle)

	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	stopProfile := profileCPU(t, os.Getenv("TAILER_IDLE_CPUPROFILE"))
	if p := os.Getenv("TAILER_IDLE_HEAPPROFILE"); p != "" {
		writeHeapProfile(t, p)
	}
	time.Sleep(idle) // the measurement is of doing nothing for this long
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	stopProfile()
	elapsed := time.Since(start)
	cpu := time.Duration(syscall.TimevalToNsec(after.Utime) - syscall.TimevalToNsec(before.Utime) +
		syscall.TimevalToNsec(after.Stime) - syscall.TimevalToNsec(before.Stime))

	heap1, stack1 := liveMemory()
	watches := inotifyWatches(t) - watches0
	t.Logf("idle followers: %d files, idle %v", files, elapsed.Round(time.Millisecond))
	t.Logf("  CPU: %.3f%% of a core (%v user+sys)", 100*cpu.Seconds()/elapsed.Seconds(), cpu.Round(time.Microsecond))
	t.Logf("  memory: %d bytes of Go heap+stacks per followed file (heap %d, stacks %d)",
		(heap1+stack1-heap0-stack0)/int64(files), (heap1-heap0)/int64(files), (stack1-stack0)/int64(files))
	t.Logf("  goroutines: %.2f per followed file", float64(runtime.NumGoroutine()-goroutines0)/float64(files))
	t.Logf("  inotify watches in the process: %d", watches)
	if w, ok := any(h).(interface{ Watches() int }); ok {
		t.Logf("  Hub.Watches: %d", w.Watches())
	}
}

// profileCPU writes a CPU profile to path (none if "") until the returned
// function is called.
func profileCPU(t *testing.T, path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func writeHeapProfile(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// liveMemory is the Go heap in use after a collection, and the goroutine
// stacks. Two collections: sync.Pool keeps its contents through one.
func liveMemory() (heap, stacks int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc), int64(ms.StackInuse)
}

// inotifyWatches counts the inotify watches of every inotify instance the
// process holds, as the kernel lists them.
func inotifyWatches(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fdinfo")
	if err != nil {
		t.Skip("no /proc/self/fdinfo")
	}
	n := 0
	for _, e := range ents {
		f, err := os.Open(filepath.Join("/proc/self/fdinfo", e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "inotify wd:") {
				n++
			}
		}
		f.Close()
	}
	return n
}
