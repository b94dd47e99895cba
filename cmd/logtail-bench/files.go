package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/logtail/logtail/wire"
)

// filesResult is what the files command measures: one stream of -files
// files (a '*' pattern), idle and then written to at random.
type filesResult struct {
	Files           int     `json:"files"`
	IdleNoStreamPct float64 `json:"idle_cpu_no_stream_pct_of_core"`
	IdlePct         float64 `json:"idle_cpu_pct_of_core"`
	RSSPerFileKiB   float64 `json:"rss_per_followed_file_kib"`
	// after the idle hold: what an idle daemon keeps, once the start's
	// garbage is collected and its pages returned
	RSSIdlePerFileKiB float64 `json:"rss_idle_per_followed_file_kib"`
	Watches           int     `json:"inotify_watches"`
	WatchesBefore     int     `json:"inotify_watches_before"`
	LinesPerS         float64 `json:"lines_per_s"`
	CPUPerLineUs      float64 `json:"server_cpu_us_per_line"`
	P50, P99, Max     float64 // ms, write→receive at -rate lines/s
	Lost, Repeated    int64
	OutOfOrder        int64 // within a file
}

// filesOnce runs the files command: n empty files, the daemon, one stream
// of them all; the daemon's CPU with no stream and with the stream idle
// (each for hold), its memory per followed file and inotify watches; then
// latency (rate lines/s to random files for dur) and throughput (lines
// lines to random files, as fast as the writer goes).
func (e *env) filesOnce(ctx context.Context, n int, lines int64, lineSize int, rate int, dur, hold time.Duration, seed uint64) (filesResult, error) {
	r := filesResult{Files: n}
	dir := filepath.Join(e.dir, fmt.Sprintf("files-%d", n))
	if err := os.RemoveAll(dir); err != nil {
		return r, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	names := make([]string, n)
	files := make([]*os.File, n)
	for i := range n {
		names[i] = filepath.Join(dir, fmt.Sprintf("f%05d.log", i))
		f, err := os.OpenFile(names[i], os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o644)
		if err != nil {
			return r, err
		}
		defer f.Close()
		files[i] = f
	}
	saved := e.logtaildArgs
	e.logtaildArgs = append(slices.Clone(saved), "--max-files", strconv.Itoa(n))
	srv, err := e.startServer(ctx, targetLogtaild, filepath.Join(dir, "*.log"), nil, nil)
	e.logtaildArgs = saved
	if err != nil {
		return r, err
	}
	defer srv.stop()
	pids := srv.pids()
	wait := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	cpuOver := func(d time.Duration) (float64, error) {
		c0 := cpuNanos(pids)
		if err := wait(d); err != nil {
			return 0, err
		}
		return 100 * float64(cpuNanos(pids)-c0) / float64(d), nil
	}
	if err := wait(time.Second); err != nil { // past the start
		return r, err
	}
	if r.IdleNoStreamPct, err = cpuOver(hold); err != nil {
		return r, err
	}
	base := memoryOf(pids)
	r.WatchesBefore = inotifyWatches(pids)

	c, err := srv.dial(ctx, "format=json&lines=0&tail=1", 1<<20)
	if err != nil {
		return r, err
	}
	defer c.close()
	rd := newFilesReader()
	go rd.run(c)
	if err := rd.waitFiles(ctx, n, time.Minute); err != nil {
		return r, err
	}
	r.RSSPerFileKiB = float64(memoryOf(pids).RSS-base.RSS) / float64(n)
	r.Watches = inotifyWatches(pids)
	if r.IdlePct, err = cpuOver(hold); err != nil {
		return r, err
	}
	r.RSSIdlePerFileKiB = float64(memoryOf(pids).RSS-base.RSS) / float64(n)

	id := newRunID()
	m := lineMaker{id: id, size: lineSize}
	total := int64(rate)*int64(dur/time.Second) + lines
	rd.expect(id, total, int64(rate)*int64(dur/time.Second))
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// latency: one line at a time to a random file, rate a second
	seq := int64(0)
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			tick.Stop()
			return r, ctx.Err()
		case <-tick.C:
		}
		if _, err := files[rng.IntN(n)].Write(m.appendLine(nil, seq, time.Now().UnixNano())); err != nil {
			tick.Stop()
			return r, err
		}
		seq++
	}
	tick.Stop()
	if err := rd.waitLines(ctx, seq, 30*time.Second); err != nil {
		return r, err
	}
	// throughput: runs of 50 lines to a random file
	c0, t0 := cpuNanos(pids), time.Now()
	buf := make([]byte, 0, 50*lineSize+64)
	for seq < total {
		buf = buf[:0]
		now := time.Now().UnixNano()
		for k := 0; k < 50 && seq < total; k++ {
			buf = m.appendLine(buf, seq, now)
			seq++
		}
		if _, err := files[rng.IntN(n)].Write(buf); err != nil {
			return r, err
		}
	}
	if err := rd.waitLines(ctx, total, 60*time.Second); err != nil {
		return r, err
	}
	took := time.Duration(rd.lastNs() - t0.UnixNano())
	r.LinesPerS = float64(lines) / took.Seconds()
	r.CPUPerLineUs = float64(cpuNanos(pids)-c0) / 1e3 / float64(lines)
	r.P50, r.P99, r.Max = rd.latency()
	r.Lost, r.Repeated, r.OutOfOrder = rd.counts(total)
	return r, nil
}

// inotifyWatches counts the inotify watches the processes hold, from
// /proc/PID/fdinfo.
func inotifyWatches(pids []int) int {
	n := 0
	for _, p := range procTree(pids...) {
		fds, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(p), "fdinfo", "*"))
		for _, fd := range fds {
			b, err := os.ReadFile(fd)
			if err == nil {
				n += bytes.Count(b, []byte("inotify wd:"))
			}
		}
	}
	return n
}

// filesReader reads the stream of many files: which files said where they
// stand, the run's lines (each once, in order within its file) and the
// latency of the first latencyN of them.
type filesReader struct {
	mu       sync.Mutex
	cond     *sync.Cond
	files    map[string]int64 // file → last seq seen (-1: none yet)
	err      error
	token    []byte
	seen     []bool
	got      int64
	repeated int64
	ooo      int64
	latN     int64
	lat      []float64
	last     int64 // when the last line came (UnixNano)
}

func newFilesReader() *filesReader {
	r := &filesReader{files: make(map[string]int64)}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *filesReader) expect(id runID, total, latN int64) {
	r.mu.Lock()
	r.token, r.seen, r.latN = id.token, make([]bool, total), latN
	r.mu.Unlock()
}

func (r *filesReader) run(c client) {
	for {
		data, err := c.next()
		now := time.Now().UnixNano()
		r.mu.Lock()
		if err != nil {
			if r.err == nil {
				r.err = err
			}
			r.cond.Broadcast()
			r.mu.Unlock()
			return
		}
		msg, derr := wire.Decode(data)
		if derr == nil && msg.File != "" {
			if _, ok := r.files[msg.File]; !ok {
				r.files[msg.File] = -1
			}
			for _, l := range msg.Lines {
				r.line(msg.File, l, now)
			}
		}
		r.cond.Broadcast()
		r.mu.Unlock()
	}
}

// line counts one line of file (under mu).
func (r *filesReader) line(file, l string, now int64) {
	if r.token == nil || !strings.HasPrefix(l, string(r.token)) || len(l) < headerLen-1 {
		return
	}
	seq, ok1 := parseDigits([]byte(l[seqOff : seqOff+seqLen]))
	ts, ok2 := parseDigits([]byte(l[timeOff : timeOff+timeLen]))
	if !ok1 || !ok2 || seq >= int64(len(r.seen)) {
		return
	}
	if r.seen[seq] {
		r.repeated++
		return
	}
	r.seen[seq] = true
	r.got++
	r.last = now
	if seq < r.files[file] {
		r.ooo++
	}
	r.files[file] = seq
	if seq < r.latN {
		r.lat = append(r.lat, float64(now-ts)/1e6)
	}
}

func (r *filesReader) waitFor(ctx context.Context, what string, limit time.Duration, cond func() bool) error {
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	// the deadline before the timer: a timer that fires first would wake
	// the loop before its deadline and never again
	deadline := time.Now().Add(limit)
	timer := time.AfterFunc(limit, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !cond() {
		switch {
		case r.err != nil:
			return fmt.Errorf("%s: the stream ended: %w", what, r.err)
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline):
			return fmt.Errorf("%s: not within %v", what, limit)
		}
		r.cond.Wait()
	}
	return nil
}

func (r *filesReader) waitFiles(ctx context.Context, n int, limit time.Duration) error {
	return r.waitFor(ctx, fmt.Sprintf("a first message from each of %d files", n), limit, func() bool { return len(r.files) >= n })
}

func (r *filesReader) waitLines(ctx context.Context, n int64, limit time.Duration) error {
	return r.waitFor(ctx, fmt.Sprintf("%d lines", n), limit, func() bool { return r.got >= n })
}

func (r *filesReader) lastNs() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *filesReader) latency() (p50, p99, maxMs float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lat) == 0 {
		return 0, 0, 0
	}
	s := slices.Sorted(slices.Values(r.lat))
	q := func(f float64) float64 { return s[min(len(s)-1, int(f*float64(len(s))))] }
	return q(0.5), q(0.99), s[len(s)-1]
}

func (r *filesReader) counts(total int64) (lost, repeated, ooo int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return total - r.got, r.repeated, r.ooo
}

// printFiles writes the files command's figures.
func printFiles(w io.Writer, rs []filesResult) {
	for _, r := range rs {
		fmt.Fprintf(w, "files: one stream of %d files (a '*' pattern)\n", r.Files)
		fmt.Fprintf(w, "  idle daemon, no stream:          %6.2f%% of a core\n", r.IdleNoStreamPct)
		fmt.Fprintf(w, "  idle, %d files followed:       %6.2f%% of a core\n", r.Files, r.IdlePct)
		fmt.Fprintf(w, "  RSS per followed file:           %6.1f KiB when the stream is up, %.1f KiB after the idle hold\n", r.RSSPerFileKiB, r.RSSIdlePerFileKiB)
		fmt.Fprintf(w, "  inotify watches:                 %d (before the stream: %d)\n", r.Watches, r.WatchesBefore)
		fmt.Fprintf(w, "  write→receive, random files:     p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", r.P50, r.P99, r.Max)
		fmt.Fprintf(w, "  throughput, random files:        %.0f lines/s, %.2f µs of server CPU per line\n", r.LinesPerS, r.CPUPerLineUs)
		fmt.Fprintf(w, "  lost %d, repeated %d, out of order within a file %d\n", r.Lost, r.Repeated, r.OutOfOrder)
	}
}
