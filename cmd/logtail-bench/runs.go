package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/logtail/logtail/wire"
)

// Result is one figure set; the fields a kind does not use stay empty.
type Result struct {
	Kind      string `json:"kind"`
	Target    string `json:"target"`
	Clients   int    `json:"clients,omitempty"`
	Format    string `json:"format,omitempty"`
	Lines     int64  `json:"lines,omitempty"`
	LineBytes int    `json:"line_bytes,omitempty"`
	Runs      int    `json:"runs,omitempty"`

	// throughput (lines/s; the median of the runs, and their range)
	PerClient     float64 `json:"per_client_lines_per_s,omitempty"`
	Total         float64 `json:"total_lines_per_s,omitempty"`
	TotalMin      float64 `json:"total_min,omitempty"`
	TotalMax      float64 `json:"total_max,omitempty"`
	Lost          int64   `json:"lost"`
	Repeated      int64   `json:"repeated"`
	OutOfOrder    int64   `json:"out_of_order"`
	CPUPerLineUs  float64 `json:"server_cpu_us_per_line,omitempty"`
	PeakRSSKiB    int64   `json:"server_peak_rss_kib,omitempty"`
	Ceiling       float64 `json:"noop_ceiling_lines_per_s,omitempty"`
	ClientLimited bool    `json:"client_limited,omitempty"`

	// latency (ms)
	P50  float64   `json:"p50_ms,omitempty"`
	P99  float64   `json:"p99_ms,omitempty"`
	P999 float64   `json:"p999_ms,omitempty"`
	Max  float64   `json:"max_ms,omitempty"`
	CDF  []float64 `json:"cdf_ms,omitempty"` // latency at quantiles 0, 1/200, … 1

	// idle
	Streams         int     `json:"streams,omitempty"`
	Connected       int     `json:"connected,omitempty"`
	Alive           int     `json:"alive,omitempty"`
	RSSPerStreamKiB float64 `json:"rss_per_stream_kib,omitempty"`
	PSSPerStreamKiB float64 `json:"pss_per_stream_kib,omitempty"`
	FanoutMs        float64 `json:"fanout_ms,omitempty"` // median of the rounds
	FanoutMinMs     float64 `json:"fanout_min_ms,omitempty"`
	FanoutMaxMs     float64 `json:"fanout_max_ms,omitempty"`
	Reached         int     `json:"reached,omitempty"`

	// lastn (ms, median of runs)
	FileBytes int64   `json:"file_bytes,omitempty"`
	Ms        float64 `json:"ms,omitempty"`
	MsMin     float64 `json:"ms_min,omitempty"`
	MsMax     float64 `json:"ms_max,omitempty"`

	// filter, deflate and http (logtaild): what the run asked for
	Grep    string `json:"grep,omitempty"`
	Proto   string `json:"proto,omitempty"`
	Deflate bool   `json:"deflate,omitempty"`
	// lines each client should get (the matching ones with a filter)
	Want int64 `json:"want_per_client,omitempty"`
	// lines read from the file (= written) per second: written lines over
	// the time from the first write to the last line's arrival
	ReadRate     float64 `json:"read_lines_per_s,omitempty"`
	ReadMin      float64 `json:"read_min,omitempty"`
	ReadMax      float64 `json:"read_max,omitempty"`
	CPUPerReadUs float64 `json:"server_cpu_us_per_line_read,omitempty"`
	CPUMin       float64 `json:"server_cpu_us_per_line_min,omitempty"`
	CPUMax       float64 `json:"server_cpu_us_per_line_max,omitempty"`
	// bytes from the sockets (after the handshake) per line delivered, and
	// bytes written to the file per line
	WireBytesPerLine float64 `json:"wire_bytes_per_line,omitempty"`
	FileBytesPerLine float64 `json:"file_bytes_per_line,omitempty"`
	Unwanted         int64   `json:"unwanted,omitempty"` // lines a filter should have kept out

	Note string `json:"note,omitempty"`
}

// wireCounter is a client that counts the bytes it read from its socket.
type wireCounter interface{ wireBytes() int64 }

func (s *session) wireBytes() (sum int64) {
	for _, f := range s.fol {
		if w, ok := f.c.(wireCounter); ok {
			sum += w.wireBytes()
		}
	}
	return sum
}

// throughputOnce: a writer appends sp.expect lines as fast as it can; the
// clients follow. Figures of one run.
func (e *env) throughputOnce(ctx context.Context, sp sessionSpec) (Result, error) {
	r := Result{Kind: "throughput", Target: sp.target, Clients: sp.clients, Format: sp.format, Lines: sp.expect, LineBytes: sp.lineSize, Runs: 1}
	s, err := e.openAll(ctx, sp)
	if err != nil {
		return r, err
	}
	defer s.close()
	if sp.precise { // the filter, deflate and http commands
		r.Grep, r.Proto, r.Deflate, r.Want = sp.grep, sp.proto, sp.deflate, sp.want()
		if r.Proto == "" {
			r.Proto = protoWS
		}
	}
	pids := s.serverPids()
	var size0 int64
	if fi, err := s.file.Stat(); err == nil {
		size0 = fi.Size()
	}
	wire0 := s.wireBytes()
	ns0 := int64(0)
	if sp.precise {
		ns0 = cpuNanos(pids)
	}
	cpu0 := cpuTicks(pids)
	start := time.Now()
	werr := make(chan error, 1)
	if sp.target == targetNoop {
		start = s.start
		werr <- nil
	} else {
		go func() { werr <- writeLines(s.file, s.maker, 0, sp.expect) }()
	}
	waitErr := s.waitDelivered(ctx, sp.want(), 3*time.Second)
	if err := <-werr; err != nil {
		return r, err
	}
	if waitErr != nil {
		return r, waitErr
	}
	cpu1 := cpuTicks(pids)
	if sp.precise { // a client the server ended (1013: too slow) is a finding
		ended, first := 0, error(nil)
		for _, f := range s.fol {
			if f.ended.Load() {
				ended++
				if first == nil {
					first = f.err
				}
			}
		}
		if ended > 0 {
			r.Note = fmt.Sprintf("%d clients ended early, first: %v", ended, first)
		}
	}
	ns1 := int64(0)
	if sp.precise {
		ns1 = cpuNanos(pids)
	}
	wire1 := s.wireBytes()
	var size1 int64
	if fi, err := s.file.Stat(); err == nil {
		size1 = fi.Size()
	}
	mem := memoryOf(pids)
	s.stopClients()

	startNs := start.UnixNano()
	var sum int64
	var lastNs int64
	rates := make([]float64, 0, len(s.fol))
	for _, f := range s.fol {
		d, l := f.t.delivered.Load(), f.t.lastNs.Load()
		sum += d
		lastNs = max(lastNs, l)
		if d > 0 && l > startNs {
			rates = append(rates, float64(d)/(float64(l-startNs)/1e9))
		} else {
			rates = append(rates, 0)
		}
		r.Lost += f.t.lost()
		r.Repeated += f.t.repeat
		r.OutOfOrder += f.t.reorder
		r.Unwanted += f.t.unwanted
	}
	r.PerClient = median(rates)
	if lastNs > startNs {
		r.Total = float64(sum) / (float64(lastNs-startNs) / 1e9)
	}
	r.TotalMin, r.TotalMax = r.Total, r.Total
	if len(pids) > 0 && sum > 0 {
		r.CPUPerLineUs = float64(cpu1-cpu0) * (1e6 / clockTick) / float64(sum)
		r.PeakRSSKiB = mem.HWM
	}
	if r.Want > 0 { // the new commands' figures
		if lastNs > startNs {
			r.ReadRate = float64(sp.expect) / (float64(lastNs-startNs) / 1e9)
		}
		if sp.precise && len(pids) > 0 {
			if sum > 0 {
				r.CPUPerLineUs = float64(ns1-ns0) / 1e3 / float64(sum)
			}
			r.CPUPerReadUs = float64(ns1-ns0) / 1e3 / float64(sp.expect)
		}
		if sum > 0 {
			r.WireBytesPerLine = float64(wire1-wire0) / float64(sum)
		}
		r.FileBytesPerLine = float64(size1-size0) / float64(sp.expect)
		r.ReadMin, r.ReadMax = r.ReadRate, r.ReadRate
		r.CPUMin, r.CPUMax = r.CPUPerLineUs, r.CPUPerLineUs
	}
	return r, nil
}

// latencyOnce: one line every interval for duration; each line's
// write→receive latency at every client.
func (e *env) latencyOnce(ctx context.Context, sp sessionSpec, duration, interval time.Duration) (Result, error) {
	sp.expect = int64(duration / interval)
	sp.latency = true
	r := Result{Kind: "latency", Target: sp.target, Clients: sp.clients, Format: sp.format, Lines: sp.expect, LineBytes: sp.lineSize, Runs: 1}
	s, err := e.openAll(ctx, sp)
	if err != nil {
		return r, err
	}
	defer s.close()
	tick := time.NewTicker(interval)
	buf := make([]byte, 0, sp.lineSize)
	for seq := int64(0); seq < sp.expect; seq++ {
		select {
		case <-ctx.Done():
			tick.Stop()
			return r, ctx.Err()
		case <-tick.C:
		}
		buf = s.maker.appendLine(buf[:0], seq, time.Now().UnixNano())
		if _, err := s.file.Write(buf); err != nil {
			tick.Stop()
			return r, fmt.Errorf("write: %w", err)
		}
	}
	tick.Stop()
	if err := s.waitDelivered(ctx, sp.expect, 2*time.Second); err != nil {
		return r, err
	}
	s.stopClients()
	var all []int64
	for _, f := range s.fol {
		all = append(all, f.t.lat...)
		r.Lost += f.t.lost()
		r.Repeated += f.t.repeat
		r.OutOfOrder += f.t.reorder
	}
	if len(all) == 0 {
		return r, errors.New("no line arrived")
	}
	slices.Sort(all)
	ms := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))]) / 1e6 }
	r.P50, r.P99, r.P999, r.Max = ms(0.5), ms(0.99), ms(0.999), ms(1)
	for i := 0; i <= 200; i++ {
		r.CDF = append(r.CDF, ms(float64(i)/200))
	}
	return r, nil
}

// idleOnce holds n streams open for hold: memory per stream, how long one
// line takes to reach them all (rounds lines, 100 ms apart: median, min and
// max), and how many are still alive after hold.
func (e *env) idleOnce(ctx context.Context, target string, n int, hold time.Duration, rounds int) (Result, error) {
	rounds = max(rounds, 1)
	r := Result{Kind: "idle", Target: target, Streams: n, Runs: rounds}
	sp := sessionSpec{target: target, clients: n, expect: int64(rounds) + 1, lineSize: 100, format: "text", bufSize: 2048, dialers: 16}
	s, err := e.open(ctx, sp)
	if err != nil {
		r.Note = err.Error()
		return r, nil // a peer that cannot hold the streams is a result
	}
	defer s.close()
	if s.failed > 0 {
		r.Note = fmt.Sprintf("%d dials failed, first: %v", s.failed, s.dialErr)
	}
	ready, err := s.waitReady(ctx, 60*time.Second)
	if err != nil {
		return r, err
	}
	r.Connected = ready
	pids := s.serverPids()
	mem := memoryOf(pids)
	if ready > 0 {
		r.RSSPerStreamKiB = float64(mem.RSS-s.base.RSS) / float64(ready)
		r.PSSPerStreamKiB = float64(mem.PSS-s.base.PSS) / float64(ready)
	}
	r.PeakRSSKiB = mem.HWM

	fanout := func(seq int64) (int, time.Duration, error) {
		t0 := time.Now()
		if _, err := s.file.Write(s.maker.appendLine(nil, seq, t0.UnixNano())); err != nil {
			return 0, 0, err
		}
		if err := s.waitDelivered(ctx, seq+1, 5*time.Second); err != nil {
			return 0, 0, err
		}
		got, last := 0, int64(0)
		for _, f := range s.fol {
			if f.t.delivered.Load() > seq {
				got++
				last = max(last, f.t.lastNs.Load())
			}
		}
		return got, time.Duration(last - t0.UnixNano()), nil
	}
	pause := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	var times []float64
	r.Reached = n
	for seq := range int64(rounds) {
		if seq > 0 {
			if err := pause(100 * time.Millisecond); err != nil {
				return r, err
			}
		}
		got, d, err := fanout(seq)
		if err != nil {
			return r, err
		}
		r.Reached = min(r.Reached, got)
		times = append(times, float64(d)/1e6)
	}
	r.FanoutMs = median(times)
	r.FanoutMinMs, r.FanoutMaxMs = slices.Min(times), slices.Max(times)
	if err := pause(hold); err != nil {
		return r, err
	}
	alive, _, err := fanout(int64(rounds))
	if err != nil {
		return r, err
	}
	r.Alive = alive
	return r, nil
}

// lastnOnce times lines=1000 (no tail) on file, repeat times.
func (e *env) lastn(ctx context.Context, target, file string, n, repeat int) (Result, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return Result{}, err
	}
	r := Result{Kind: "lastn", Target: target, Lines: int64(n), FileBytes: fi.Size(), Runs: repeat}
	srv, err := e.startServer(ctx, target, file, []string{"tail", "-n", fmt.Sprint(n), file}, nil)
	if err != nil {
		return r, err
	}
	defer srv.stop()
	var times []float64
	for range repeat {
		t0 := time.Now()
		c, err := srv.dial(ctx, wire.Query{Lines: n, Format: wire.FormatText}.Encode(), 64<<10)
		if err != nil {
			return r, err
		}
		got := 0
		for got < n {
			msg, err := c.next()
			if err != nil {
				var ce closeError
				if errors.As(err, &ce) && ce.code == 1000 || errors.Is(err, io.ErrUnexpectedEOF) {
					break
				}
				c.close()
				return r, fmt.Errorf("lastn %s: %w", target, err)
			}
			if k := countLines(msg); k > 0 {
				got += k
			} else if len(msg) > 0 {
				got++ // websocketd: a message is a line, without its newline
			}
		}
		times = append(times, float64(time.Since(t0))/1e6)
		c.close()
		if got < n {
			r.Note = fmt.Sprintf("got %d lines of %d", got, n)
		}
	}
	r.Ms = median(times)
	r.MsMin, r.MsMax = slices.Min(times), slices.Max(times)
	return r, nil
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

// ensureFile makes a file of about size bytes of 100-byte lines, once.
func ensureFile(dir, name string, size int64) (string, error) {
	p := filepath.Join(dir, name)
	m := lineMaker{id: runID{token: []byte("Lfixed00 "), probe: []byte("Pfixed00")}, size: 100}
	lines := size / 100
	if fi, err := os.Stat(p); err == nil && fi.Size() == lines*100 {
		return p, nil
	}
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	if err := writeLines(f, m, 0, lines); err != nil {
		f.Close()
		return "", err
	}
	return p, f.Close()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// openAll opens a session whose every client must be connected and following
// before a measurement starts; it is closed again when one is not.
func (e *env) openAll(ctx context.Context, sp sessionSpec) (*session, error) {
	s, err := e.open(ctx, sp)
	if err != nil {
		return nil, err
	}
	if s.failed > 0 {
		s.close()
		return nil, fmt.Errorf("%d of %d clients failed to connect: %w", s.failed, sp.clients, s.dialErr)
	}
	if n, err := s.waitReady(ctx, 30*time.Second); err != nil {
		s.close()
		return nil, err
	} else if n < len(s.fol) {
		s.close()
		return nil, fmt.Errorf("only %d of %d clients follow the file", n, len(s.fol))
	}
	return s, nil
}
