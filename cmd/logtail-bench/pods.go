package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// The pods command (issue #17): the CLI, logtail, following many daemons at
// once, as it follows every pod of a Kubernetes Service. N logtaild
// processes, each on its own loopback address (127.0.0.2, 127.0.0.3, …) with
// --name pod-K and a file of its own; one logtail process given all N URLs
// (-n 0 -f), its stdout a pipe this tool reads. Each run of the CLI has two
// phases: lines written one at a time at -rate lines/s in all (write→print
// latency), then -lines lines as fast as the writer goes (lines/s, CPU per
// line). Runs alternate between --order arrival and --order time (A B A B),
// so the ratios compare runs of the same minutes.
//
// Line seq of a run goes to pod seq%N, as that pod's line seq/N: every
// printed line names its pod, and the tool checks that the CLI's prefix
// names the same one, that no line is lost or repeated, and that each pod's
// lines keep their order.

// podsFlags are the pods command's own flags; it also reads -lines,
// -line-bytes, -rate, -duration and -repeat, with defaults of its own when
// they are not given (podsDefaults).
type podsFlags struct {
	daemons     int
	logtailBin  string
	logtailArgs []string
	window      time.Duration
	podUID      int
	orders      []string
	pipeBytes   int
	retry       bool
}

func addPodsFlags(fs *flag.FlagSet) *podsFlags {
	p := &podsFlags{}
	fs.IntVar(&p.daemons, "daemons", 100, "pods: logtaild processes, on 127.0.0.2, 127.0.0.3, …")
	fs.StringVar(&p.logtailBin, "logtail-bin", "", "pods: the logtail CLI (default: go build ./cmd/logtail into -dir)")
	fs.Func("logtail-args", "pods: extra logtail flags, space-separated (e.g. \"--no-compress\")", func(v string) error {
		p.logtailArgs = strings.Fields(v)
		return nil
	})
	fs.DurationVar(&p.window, "order-window", 0, "pods: logtail's --order-window with --order time (0: logtail's default)")
	p.orders = []string{orderArrival, orderTime}
	fs.Func("orders", "pods: the CLI's --order values to run, in turn (default \"arrival,time\")", func(v string) error {
		p.orders = nil
		for _, o := range strings.Split(v, ",") {
			if o != orderArrival && o != orderTime {
				return fmt.Errorf("%q: want arrival or time", o)
			}
			p.orders = append(p.orders, o)
		}
		return nil
	})
	fs.BoolVar(&p.retry, "retry", false, "pods: run logtail with -F instead of -f: a stream a daemon closes resumes (and is checked for loss)")
	fs.IntVar(&p.pipeBytes, "pipe-bytes", 0, "pods: the size of the pipe of logtail's output (F_SETPIPE_SZ; 0: the system's, 64 KiB)")
	fs.IntVar(&p.podUID, "pod-uid", 0, "pods: run daemon K as uid and gid BASE+K (root only), so that each has the inotify instances of a user of its own")
	return p
}

// podsDefaults are the shared flags' values for pods when not given: a run
// of about a minute and a half.
var podsDefaults = map[string]string{
	"lines":    "3000000",
	"rate":     "2000",
	"duration": "5s",
	"repeat":   "2",
}

// podsConfig is one pods command, its flags read.
type podsConfig struct {
	podsFlags
	lines    int64 // the throughput phase's, in all
	lineSize int
	rate     int // the latency phase's lines a second, in all
	duration time.Duration
	repeat   int
}

// Orders of the CLI's merge.
const (
	orderArrival = "arrival"
	orderTime    = "time"
)

// chunkLines is how many lines the throughput phase writes to a file at
// once, going round the files: small enough that the files are written to
// in turn, as pods log at the same time.
const chunkLines = 20

// inotifyPerDaemon is how many inotify instances a logtaild following a
// file holds (the tailer's and nxadm/tail's): the kernel allows 128 per user
// by default (fs.inotify.max_user_instances), fewer than 100 daemons need.
const inotifyPerDaemon = 2

// podsResult is one run of the CLI.
type podsResult struct {
	Order   string `json:"order"`
	Run     int    `json:"run"`
	Daemons int    `json:"daemons"`

	// throughput phase: Lines written as fast as the writer goes
	Lines     int64   `json:"lines"`
	LinesPerS float64 `json:"lines_per_s"`       // printed, from the 10% line (or the writer's end) to the 90% line
	WriteRate float64 `json:"write_rate"`        // written, lines/s
	Limited   string  `json:"limited,omitempty"` // "writer": it wrote for most of the measured time
	CLIUsLine float64 `json:"cli_cpu_us_per_line"`
	CLIPct    float64 `json:"cli_cpu_pct_of_core"`
	ToolUs    float64 `json:"tool_cpu_us_per_line"`    // this tool but its writer: the reader of the CLI's output
	WriterUs  float64 `json:"writer_cpu_us_per_line"`  // the writer's thread (on the CLI's CPU with -pin-clients)
	DaemonsUs float64 `json:"daemons_cpu_us_per_line"` // all the daemons together
	DaemonPct float64 `json:"daemons_cpu_pct_of_core"`
	// how busy each CPU was, whatever ran: what the CLI, the tool and the
	// daemons leave of it went to other programs or stayed idle
	CPUsBusy []float64 `json:"cpus_busy_pct"`
	// of it, what other processes took (% of a core)
	OthersPct float64 `json:"others_cpu_pct_of_core"`

	// latency phase: Rate lines/s in all, one line per write
	Rate         int     `json:"rate"`
	RateLines    int64   `json:"rate_lines"`
	P50          float64 `json:"p50_ms"`
	P99          float64 `json:"p99_ms"`
	Max          float64 `json:"max_ms"`
	RateCLIPct   float64 `json:"rate_cli_cpu_pct_of_core"`
	RateCLIUs    float64 `json:"rate_cli_cpu_us_per_line"`
	WriteOrderOK float64 `json:"rate_in_write_order"` // share of lines printed after no later-written line
	// the most a line was written before a line printed ahead of it (ms)
	WorstInversion float64 `json:"rate_worst_inversion_ms"`

	// the CLI's memory (KiB): connected to every daemon before any line,
	// at the end, and its peak (VmHWM)
	RSSConnected int64 `json:"cli_rss_connected_kib"`
	RSSEnd       int64 `json:"cli_rss_end_kib"`
	RSSPeak      int64 `json:"cli_rss_peak_kib"`

	Lost          int64    `json:"lost"`
	Repeated      int64    `json:"repeated"`
	Reordered     int64    `json:"reordered_within_a_pod"`
	Misattributed int64    `json:"misattributed"`             // a prefix naming another pod
	Stray         int64    `json:"stray"`                     // printed lines of no pod
	Polling       int      `json:"daemons_polling,omitempty"` // daemons without an inotify watch
	Notes         []string `json:"cli_notes,omitempty"`
	// the throughput phase every 100 ms or so: s from its start, lines
	// printed so far, % of a core of the CLI and of the daemons since the
	// last point
	Timeline [][4]float64 `json:"timeline"`
}

// podsSummary compares the orders: medians of each order's runs, and
// time ÷ arrival of the medians.
type podsSummary struct {
	Command string         `json:"command"`
	Daemons int            `json:"daemons"`
	Name    bool           `json:"daemons_named"` // logtaild took --name
	Inotify int            `json:"daemons_without_inotify,omitempty"`
	Runs    []podsResult   `json:"runs"`
	Orders  []orderFigures `json:"orders"`
	// time ÷ arrival, of each round's two runs
	CPURatio  spread `json:"time_over_arrival_cpu_per_line"`
	RateRatio spread `json:"time_over_arrival_lines_per_s"`
	Note      string `json:"note,omitempty"`
}

// runPods is the pods command.
func (e *env) runPods(ctx context.Context, args []string, fs *flag.FlagSet, pf *podsFlags, stdout io.Writer, jsonOut string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, v := range podsDefaults {
		if !given[name] {
			if err := fs.Set(name, v); err != nil {
				return err
			}
		}
	}
	get := func(name string) any { return fs.Lookup(name).Value.(flag.Getter).Get() }
	pc := &podsConfig{podsFlags: *pf, lines: get("lines").(int64), lineSize: get("line-bytes").(int),
		rate: get("rate").(int), duration: get("duration").(time.Duration), repeat: get("repeat").(int)}
	switch {
	case pc.daemons < 1:
		return fmt.Errorf("-daemons %d: want 1 or more", pc.daemons)
	case pc.daemons > 10000:
		return fmt.Errorf("-daemons %d: want at most 10000 (the loopback addresses and the open files)", pc.daemons)
	case pc.lines < 1 || pc.rate < 1 || pc.duration <= 0 || pc.repeat < 1:
		return errors.New("pods: -lines, -rate, -duration and -repeat must be positive")
	case pc.podUID > 0 && os.Geteuid() != 0:
		return errors.New("-pod-uid: only root may run the daemons as other users")
	}
	if err := checkInotify(pc.daemons, pc.podUID); err != nil {
		return err
	}
	if err := e.buildLogtail(ctx, pc); err != nil {
		return err
	}
	sum := podsSummary{Command: "logtail-bench " + strings.Join(args, " "), Daemons: pc.daemons}
	orders := pc.orders
	if help, _ := exec.CommandContext(ctx, pc.logtailBin, "-h").CombinedOutput(); !bytes.Contains(help, []byte("--order ")) {
		orders = slices.DeleteFunc(slices.Clone(orders), func(o string) bool { return o == orderTime })
		sum.Note = "this logtail has no --order: arrival order only"
	}

	fleet, err := e.startPods(ctx, pc)
	if err != nil {
		return err
	}
	defer fleet.stop()
	sum.Name = fleet.named
	if !fleet.named {
		sum.Note = strings.TrimPrefix(sum.Note+"; this logtaild has no --name: the daemons are unnamed", "; ")
	}
	for r := 1; r <= pc.repeat; r++ {
		for _, order := range orders {
			res, err := e.podsRun(ctx, pc, fleet, order, r)
			if err != nil {
				return fmt.Errorf("pods: %s order, run %d: %w", order, r, err)
			}
			sum.Inotify = max(sum.Inotify, res.Polling)
			sum.Runs = append(sum.Runs, res)
		}
	}
	for _, o := range orders {
		sum.Orders = append(sum.Orders, figuresOf(sum.Runs, o))
	}
	sum.CPURatio = pairRatios(sum.Runs, func(r podsResult) float64 { return r.CLIUsLine })
	sum.RateRatio = pairRatios(sum.Runs, func(r podsResult) float64 { return r.LinesPerS })
	printPods(stdout, pc, sum)
	if jsonOut != "" {
		b, _ := json.MarshalIndent(sum, "", "  ")
		if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("-json: %w", err)
		}
	}
	return nil
}

// buildLogtail builds the CLI into -dir unless -logtail-bin names one.
func (e *env) buildLogtail(ctx context.Context, pc *podsConfig) error {
	return e.buildCmd(ctx, "logtail", &pc.logtailBin)
}

// checkInotify refuses to start daemons that would take the inotify
// instances the user's other programs need, or not get theirs and poll.
func checkInotify(daemons, podUID int) error {
	if podUID > 0 {
		return nil // each daemon is a user of its own
	}
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances")
	if err != nil {
		return nil // not Linux's /proc: let the daemons tell
	}
	limit, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	used := inotifyInstances(os.Geteuid())
	const room = 16 // left to the user's other programs
	if need := inotifyPerDaemon * daemons; limit > 0 && used+need > limit-room {
		return fmt.Errorf("%d daemons need %d inotify instances; this user has %d in use of %d (fs.inotify.max_user_instances): "+
			"give -pod-uid BASE (as root: daemon K runs as uid BASE+K), raise the limit, or fewer -daemons", daemons, need, used, limit)
	}
	return nil
}

// inotifyInstances counts the inotify instances the processes of uid hold.
func inotifyInstances(uid int) int {
	n := 0
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		dir := filepath.Join("/proc", p.Name())
		fi, err := os.Stat(dir)
		if err != nil || !p.IsDir() || strings.Trim(p.Name(), "0123456789") != "" {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != uid {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join(dir, "fd"))
		for _, fd := range fds {
			if l, _ := os.Readlink(filepath.Join(dir, "fd", fd.Name())); l == "anon_inode:inotify" {
				n++
			}
		}
	}
	return n
}

// podFleet is the started daemons: pod K serves roots/pod-K at addrs[K].
type podFleet struct {
	dir   string // the fleet's directory: roots/ and logs/
	roots []string
	addrs []string
	srv   []*server
	named bool // the daemons were given --name
}

// podAddr is pod k's loopback address: 127.0.0.2 + k.
func podAddr(k int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte((k + 2) >> 16), byte((k + 2) >> 8), byte(k + 2)})
}

// startPods starts the daemons, eight at a time, each listening on a port
// of its own address.
func (e *env) startPods(ctx context.Context, pc *podsConfig) (*podFleet, error) {
	f := &podFleet{dir: filepath.Join(e.dir, "pods")}
	if err := os.RemoveAll(f.dir); err != nil {
		return nil, err
	}
	for _, d := range []string{"roots", "logs"} {
		if err := os.MkdirAll(filepath.Join(f.dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if pc.podUID > 0 {
		if err := searchableByAll(f.dir); err != nil {
			return nil, fmt.Errorf("-pod-uid: %w", err)
		}
	}
	help, _ := exec.CommandContext(ctx, e.logtaildBin, "--help").CombinedOutput()
	f.named = bytes.Contains(help, []byte("-name "))
	n := pc.daemons
	f.roots, f.addrs, f.srv = make([]string, n), make([]string, n), make([]*server, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for k := range n {
		f.roots[k] = filepath.Join(f.dir, "roots", fmt.Sprintf("pod-%d", k))
		if err := os.Mkdir(f.roots[k], 0o755); err != nil {
			return nil, err
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f.srv[k], errs[k] = e.startPod(ctx, pc, f, k)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

// startPod starts daemon k and waits until it listens.
func (e *env) startPod(ctx context.Context, pc *podsConfig, f *podFleet, k int) (*server, error) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(podAddr(k), 0).String())
	if err != nil {
		return nil, fmt.Errorf("pod-%d: a port on %s: %w", k, podAddr(k), err)
	}
	addr := ln.Addr().String()
	ln.Close()
	argv := []string{e.logtaildBin, "--root", f.roots[k], "--addr", addr, "--log-format", "text",
		"--heartbeat-interval", e.heartbeat.String()}
	if f.named {
		argv = append(argv, "--name", fmt.Sprintf("pod-%d", k))
	}
	argv = pinned(e.pinServer, append(argv, e.logtaildArgs...)...)
	logPath := filepath.Join(f.dir, "logs", fmt.Sprintf("pod-%d.log", k))
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	s := &server{target: targetLogtaild, addr: addr, file: f.roots[k], pinCPU: e.pinServer, exited: make(chan struct{})}
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = lf, lf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if pc.podUID > 0 {
		id := uint32(pc.podUID + k)
		s.cmd.SysProcAttr.Credential = &syscall.Credential{Uid: id, Gid: id}
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pod-%d: %w", k, err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }() // ended by stop
	if err := s.awaitListening(ctx, logPath, fmt.Sprintf("pod-%d", k)); err != nil {
		return nil, err
	}
	return s, nil
}

// searchableByAll checks that other users may reach dir: every directory
// from the root down to it has the x bit for others.
func searchableByAll(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is not searchable by other users: the daemons could not read their files (choose another -dir)", d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (f *podFleet) pids() []int {
	var p []int
	for _, s := range f.srv {
		if s != nil {
			p = append(p, s.pids()...)
		}
	}
	return p
}

// withoutInotify counts the daemons that hold no inotify watch while
// followed: those follow their file by polling.
func (f *podFleet) withoutInotify() int {
	n := 0
	for _, s := range f.srv {
		if inotifyWatches(s.pids()) == 0 {
			n++
		}
	}
	return n
}

func (f *podFleet) stop() {
	var wg sync.WaitGroup
	for _, s := range f.srv {
		if s != nil {
			wg.Go(s.stop)
		}
	}
	wg.Wait()
}

// podsRun runs the CLI once in order over the fleet: a fresh file per pod,
// the latency phase, then the throughput phase.
func (e *env) podsRun(ctx context.Context, pc *podsConfig, fleet *podFleet, order string, run int) (podsResult, error) {
	n := pc.daemons
	res := podsResult{Order: order, Run: run, Daemons: n, Rate: pc.rate}
	id := newRunID()
	// whole rounds of the pods, so that line seq is always pod seq%n's
	rateLines := roundUp(max(1, int64(float64(pc.rate)*pc.duration.Seconds())), int64(n))
	lines := roundUp(pc.lines, int64(n))
	res.RateLines, res.Lines = rateLines, lines
	files := make([]*os.File, n)
	urls := make([]string, n)
	sources := make([][]byte, n)
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}
	}()
	for k := range n {
		name := filepath.Join(fleet.roots[k], fmt.Sprintf("run-%s.log", id.probe))
		f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return res, err
		}
		files[k] = f
		u := url.URL{Scheme: "ws", Host: fleet.srv[k].addr, Path: name}
		urls[k] = u.String()
		sources[k] = []byte(u.Host + u.Path) // the CLI's prefix: host:port/path
	}
	if n == 1 {
		sources = nil // one URL: no prefix
	}

	follow := "-f"
	if pc.retry {
		follow = "-F"
	}
	args := []string{"-n", "0", follow, "--color", "never"}
	if order == orderTime {
		args = append(args, "--order", "time")
		if pc.window > 0 {
			args = append(args, "--order-window", pc.window.String())
		}
	}
	args = append(append(args, pc.logtailArgs...), urls...)
	argv := pinned(e.pinClients, append([]string{pc.logtailBin}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	if pc.pipeBytes > 0 {
		if err := setPipeSize(stdout, pc.pipeBytes); err != nil {
			return res, err
		}
	}
	errPath := filepath.Join(fleet.dir, "logs", fmt.Sprintf("logtail-%s-%d.stderr", order, run))
	ef, err := os.Create(errPath)
	if err != nil {
		return res, err
	}
	defer ef.Close()
	cmd.Stderr = ef
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start logtail: %w", err)
	}
	rd := newPodReader(n, id, sources, rateLines, rateLines+lines)
	var readers sync.WaitGroup
	readers.Go(func() { rd.run(stdout) })
	exited := false
	defer func() {
		if !exited {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			readers.Wait()
			cmd.Wait()
		}
	}()
	pid := []int{cmd.Process.Pid}
	fail := func(err error) (podsResult, error) {
		if b, _ := os.ReadFile(errPath); len(b) > 0 {
			err = fmt.Errorf("%w; logtail's stderr (%s): %s", err, errPath, bytes.TrimSpace(b[:min(len(b), 600)]))
			if !pc.retry {
				err = fmt.Errorf("%w (-retry runs logtail -F, which resumes a stream a daemon ended)", err)
			}
		}
		return res, err
	}

	// every pod's stream follows: a probe line to each pod not yet heard
	// of, until all are
	for deadline := time.Now().Add(60 * time.Second); ; {
		missing := rd.unprobed()
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("after 60s, %d pods not heard of through logtail (pod-%d first)", len(missing), missing[0]))
		}
		for _, k := range missing {
			if _, err := fmt.Fprintf(files[k], "%s probe %d\n", id.probe, k); err != nil {
				return res, err
			}
		}
		if err := rd.wait(ctx, 25*time.Millisecond, func() bool { return len(rd.unprobedLocked()) == 0 }); err != nil {
			return fail(err)
		}
	}
	res.RSSConnected = memoryOf(pid).RSS
	res.Polling = fleet.withoutInotify()
	window := pc.window
	if window == 0 {
		window = time.Second // logtail's default
	}
	// a stall is a finding: logtail's goroutines show where it waits
	stalled := func(err error) (podsResult, error) {
		if errors.Is(err, errStalled) {
			cmd.Process.Signal(syscall.SIGQUIT) // a Go program prints its goroutines and exits
			readers.Wait()
			return res, fmt.Errorf("%w (logtail's goroutines then: %s)", err, errPath)
		}
		return fail(err)
	}

	// latency: one line at a time, rate a second in all, to the pods in turn
	m := newLineTemplate(lineMaker{id: id, size: pc.lineSize})
	buf := make([]byte, 0, chunkLines*pc.lineSize+64)
	cli0, t0 := cpuNanos(pid), time.Now()
	every := time.Second / time.Duration(pc.rate)
	if _, err := onThread(func() error {
		for seq := int64(0); seq < rateLines; seq++ {
			if d := time.Until(t0.Add(time.Duration(seq) * every)); d > 0 {
				if err := sleep(ctx, d); err != nil {
					return err
				}
			}
			buf = m.append(buf[:0], seq, time.Now().UnixNano())
			if _, err := files[seq%int64(n)].Write(buf); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return res, err
	}
	writing := time.Since(t0)
	if err := rd.waitLines(ctx, rateLines, window+5*time.Second); err != nil {
		return stalled(err)
	}
	cliNs := cpuNanos(pid) - cli0
	res.RateCLIPct = 100 * float64(cliNs) / float64(writing)
	res.RateCLIUs = float64(cliNs) / 1e3 / float64(rateLines)

	// throughput: chunkLines lines to each pod in turn, as fast as the
	// writer goes; the CLI's and the daemons' CPU sampled on the way
	fleetPids := fleet.pids()
	cli0, tool0, d0 := cpuNanos(pid), ownNanos(), cpuNanos(fleetPids)
	smp := &cpuSampler{pids: append(slices.Clone(pid), fleetPids...), split: 1}
	var sampling sync.WaitGroup
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampling.Go(func() { smp.run(sampleCtx, 50*time.Millisecond) })
	defer func() {
		stopSampling()
		sampling.Wait()
		// for the record, and for a failed run above all: the phase's course
		var b bytes.Buffer
		b.WriteString("s\tprinted\tCLI %core\tdaemons %core\n")
		for _, p := range smp.timeline(t0.UnixNano(), rd.stats(), 100*time.Millisecond) {
			fmt.Fprintf(&b, "%.2f\t%.0f\t%.0f\t%.0f\n", p[0], p[1], p[2], p[3])
		}
		os.WriteFile(strings.TrimSuffix(errPath, ".stderr")+".timeline", b.Bytes(), 0o644)
	}()
	t0 = time.Now()
	per := int64(n) * chunkLines
	writerNs, err := onThread(func() error {
		for base := rateLines; base < rateLines+lines; base += per {
			now := time.Now().UnixNano()
			for k := range int64(n) {
				buf = buf[:0]
				for j := int64(0); j < chunkLines; j++ {
					if seq := base + j*int64(n) + k; seq < rateLines+lines {
						buf = m.append(buf, seq, now)
					}
				}
				if _, err := files[k].Write(buf); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	wrote := time.Since(t0)
	if err := rd.waitLines(ctx, rateLines+lines, window+5*time.Second); err != nil {
		return stalled(err)
	}
	stopSampling()
	sampling.Wait()
	cliNs, toolNs, dNs := cpuNanos(pid)-cli0, ownNanos()-tool0, cpuNanos(fleetPids)-d0
	mem := memoryOf(pid)
	res.RSSEnd, res.RSSPeak = mem.RSS, mem.HWM

	// Ctrl-C: logtail closes its streams and exits 0
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { readers.Wait(); done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = fmt.Errorf("logtail did not end within 10s of SIGINT (killed): %v", <-done)
	}
	exited = true
	if err != nil {
		return fail(fmt.Errorf("logtail: %w", err))
	}

	// lines/s and shares of CPU: from the 10% line, or from the writer's
	// end when that is later, to the 90% line. Left out so: the start, the
	// last lines (with --order time, the window's hold), and the writer,
	// which shares the CLI's CPU (with -pin-clients) while it writes, and
	// with --order time would take its share only before the CLI prints.
	st := rd.stats()
	res.WriteRate = float64(lines) / wrote.Seconds()
	from, to := max(st.t10, t0.Add(wrote).UnixNano()), st.t90
	if to-from < int64(to-st.t10)/4 { // the writer wrote for most of it
		from, res.Limited = st.t10, "writer"
	}
	if to <= from { // a short run: all of it
		from, to = t0.UnixNano(), st.last
	}
	res.LinesPerS = st.rate(from, to)
	res.CLIUsLine = float64(cliNs) / 1e3 / float64(lines)
	res.ToolUs = float64(toolNs-writerNs) / 1e3 / float64(lines)
	res.WriterUs = float64(writerNs) / 1e3 / float64(lines)
	res.DaemonsUs = float64(dNs) / 1e3 / float64(lines)
	res.CLIPct, res.DaemonPct = smp.pct(from, to)
	res.CPUsBusy = smp.busy(from, to)
	res.OthersPct = smp.others(from, to)
	res.Timeline = smp.timeline(t0.UnixNano(), st, 100*time.Millisecond)
	res.P50, res.P99, res.Max = st.p50, st.p99, st.max
	res.WriteOrderOK, res.WorstInversion = st.inWriteOrder, st.worstMs
	res.Lost, res.Repeated, res.Reordered = rateLines+lines-st.got, st.repeated, st.reordered
	res.Misattributed, res.Stray = st.misattributed, st.stray
	if b, _ := os.ReadFile(errPath); len(b) > 0 {
		notes := strings.Split(strings.TrimSpace(string(b)), "\n")
		res.Notes = notes[:min(len(notes), 5)]
	}
	return res, nil
}

// cpuSampler samples the CPU time of some processes (/proc/PID/stat: all
// their threads, in ticks) every so often, the first split of pids against
// the rest, and how busy each CPU of the machine was (/proc/stat): their
// share of a core over part of a run, and whether others took the rest.
type cpuSampler struct {
	pids    []int
	split   int
	samples []cpuSample
}

type cpuSample struct {
	at   int64    // ns
	a, b int64    // ticks of pids[:split], of the rest
	own  int64    // this tool's CPU time, ns
	busy []uint64 // ticks of each CPU not idle
	all  []uint64 // ticks of each CPU
}

func (s *cpuSampler) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.sample()
		select {
		case <-ctx.Done():
			s.sample() // the end of the run
			return
		case <-t.C:
		}
	}
}

func (s *cpuSampler) sample() {
	c := cpuSample{at: time.Now().UnixNano(), own: ownNanos()}
	for i, p := range s.pids {
		if st, err := readStat(p); err == nil {
			if i < s.split {
				c.a += st.ticks
			} else {
				c.b += st.ticks
			}
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		for _, l := range bytes.Split(b, []byte("\n")) {
			f := bytes.Fields(l)
			if len(f) < 6 || !bytes.HasPrefix(f[0], []byte("cpu")) || len(f[0]) == 3 {
				continue // not a CPU's line, or the sum of them all
			}
			var all, idle uint64
			for k, v := range f[1:] {
				n, _ := strconv.ParseUint(string(v), 10, 64)
				if k < 8 { // user nice system idle iowait irq softirq steal
					all += n
				}
				if k == 3 || k == 4 {
					idle += n
				}
			}
			c.busy, c.all = append(c.busy, all-idle), append(c.all, all)
		}
	}
	s.samples = append(s.samples, c)
}

// window is the two samples that enclose [from, to] (ns), ok when they are
// two.
func (s *cpuSampler) window(from, to int64) (x, y cpuSample, ok bool) {
	if len(s.samples) < 2 {
		return x, y, false
	}
	i := max(0, slices.IndexFunc(s.samples, func(c cpuSample) bool { return c.at > from })-1)
	j := slices.IndexFunc(s.samples, func(c cpuSample) bool { return c.at >= to })
	if j < 0 {
		j = len(s.samples) - 1
	}
	x, y = s.samples[i], s.samples[j]
	return x, y, y.at > x.at
}

// pct is each group's CPU over [from, to] (ns), in % of a core, between the
// samples that enclose it. Read after run has returned.
func (s *cpuSampler) pct(from, to int64) (a, b float64) {
	x, y, ok := s.window(from, to)
	if !ok {
		return 0, 0
	}
	ns := float64(y.at - x.at)
	tick := 1e9 / float64(clockTick)
	return 100 * float64(y.a-x.a) * tick / ns, 100 * float64(y.b-x.b) * tick / ns
}

// timeline is the run from start (ns) in steps of about every: seconds,
// lines printed by then, and the CLI's and the daemons' % of a core over
// the step.
func (s *cpuSampler) timeline(start int64, st podStats, every time.Duration) [][4]float64 {
	var out [][4]float64
	last := -1
	for i, c := range s.samples {
		if last >= 0 && c.at-s.samples[last].at < int64(every) && i < len(s.samples)-1 {
			continue
		}
		p := [4]float64{float64(c.at-start) / 1e9, float64(st.printedBy(c.at))}
		if last >= 0 {
			x := s.samples[last]
			ns := float64(c.at - x.at)
			p[2] = 100 * float64(c.a-x.a) * 1e9 / clockTick / ns
			p[3] = 100 * float64(c.b-x.b) * 1e9 / clockTick / ns
		}
		out = append(out, p)
		last = i
	}
	return out
}

// others is the % of a core that went to other processes than the tool,
// the CLI and the daemons over [from, to]: the machine's other work, and
// the kernel's charged to no process.
func (s *cpuSampler) others(from, to int64) float64 {
	x, y, ok := s.window(from, to)
	if !ok || len(x.all) != len(y.all) {
		return 0
	}
	var busy, all uint64
	for i := range x.all {
		busy, all = busy+y.busy[i]-x.busy[i], all+y.all[i]-x.all[i]
	}
	if all == 0 {
		return 0
	}
	ns := float64(y.at - x.at)
	tick := 1e9 / float64(clockTick)
	// /proc/stat counts ticks of every CPU: all of them make the interval
	// times the CPUs
	total := 100 * float64(busy) / float64(all) * float64(len(x.all))
	ours := 100 * (float64(y.a-x.a+y.b-x.b)*tick + float64(y.own-x.own)) / ns
	return max(0, total-ours)
}

// busy is how busy each CPU was over [from, to], in %, whoever ran on it.
func (s *cpuSampler) busy(from, to int64) []float64 {
	x, y, ok := s.window(from, to)
	if !ok || len(x.all) != len(y.all) {
		return nil
	}
	out := make([]float64, len(x.all))
	for i := range out {
		if d := y.all[i] - x.all[i]; d > 0 {
			out[i] = 100 * float64(y.busy[i]-x.busy[i]) / float64(d)
		}
	}
	return out
}

// spread is a figure over runs: its median, least and greatest.
type spread struct{ Median, Min, Max float64 }

func spreadOf(v []float64) spread {
	if len(v) == 0 {
		return spread{}
	}
	s := slices.Sorted(slices.Values(v))
	mid := s[len(s)/2]
	if len(s)%2 == 0 { // of two runs, their mean
		mid = (s[len(s)/2-1] + mid) / 2
	}
	return spread{mid, s[0], s[len(s)-1]}
}

func (s spread) String() string {
	f := func(x float64) string {
		switch {
		case x >= 1e5:
			return strconv.FormatFloat(x/1e3, 'f', 0, 64) + "k"
		case x >= 100:
			return strconv.FormatFloat(x, 'f', 0, 64)
		case x >= 10:
			return strconv.FormatFloat(x, 'f', 1, 64)
		}
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
	return f(s.Median) + " (" + f(s.Min) + "–" + f(s.Max) + ")"
}

// orderFigures are one order's figures over its runs.
type orderFigures struct {
	Order     string `json:"order"`
	Runs      int    `json:"runs"`
	LinesPerS spread `json:"lines_per_s"`
	CLIUsLine spread `json:"cli_cpu_us_per_line"`
	RateCLIUs spread `json:"rate_cli_cpu_us_per_line"`
	P50       spread `json:"p50_ms"`
	P99       spread `json:"p99_ms"`
	RSSEndMiB spread `json:"cli_rss_end_mib"`
	RSSPeak   spread `json:"cli_rss_peak_mib"`
}

func figuresOf(rs []podsResult, order string) orderFigures {
	f := orderFigures{Order: order}
	var lps, cpu, rcpu, p50, p99, end, peak []float64
	for _, r := range rs {
		if r.Order != order {
			continue
		}
		f.Runs++
		lps, cpu, rcpu = append(lps, r.LinesPerS), append(cpu, r.CLIUsLine), append(rcpu, r.RateCLIUs)
		p50, p99 = append(p50, r.P50), append(p99, r.P99)
		end, peak = append(end, float64(r.RSSEnd)/1024), append(peak, float64(r.RSSPeak)/1024)
	}
	f.LinesPerS, f.CLIUsLine, f.RateCLIUs = spreadOf(lps), spreadOf(cpu), spreadOf(rcpu)
	f.P50, f.P99, f.RSSEndMiB, f.RSSPeak = spreadOf(p50), spreadOf(p99), spreadOf(end), spreadOf(peak)
	return f
}

// pairRatios is time ÷ arrival of a figure in each round (the runs next
// to each other): their median and range.
func pairRatios(rs []podsResult, f func(podsResult) float64) spread {
	var v []float64
	for i := 0; i+1 < len(rs); i++ {
		if a, t := rs[i], rs[i+1]; a.Order == orderArrival && t.Order == orderTime && a.Run == t.Run && f(a) > 0 {
			v = append(v, f(t)/f(a))
		}
	}
	return spreadOf(v)
}

// printPods writes the runs and the comparison.
func printPods(w io.Writer, pc *podsConfig, s podsSummary) {
	fmt.Fprintf(w, "pods: logtail following %d daemons, %d-byte lines; latency at %d lines/s for %v, then %d lines as fast as written\n",
		s.Daemons, pc.lineSize, pc.rate, pc.duration, pc.lines)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "order\trun\tlines/s\twritten/s\tCLI µs/line\tCLI % of core\ttool/writer µs/line\tdaemons µs/line\tdaemons % of core\tCPUs busy % (others)\t"+
		"p50 ms\tp99 ms\tmax ms\tCLI % of core at rate\tin write order (worst ms)\tCLI RSS MiB conn/end/peak\tlost\trep\treord\tmisattr\tstray\tflag\t\n")
	for _, r := range s.Runs {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.2f\t%.0f\t%.2f/%.2f\t%.2f\t%.0f\t%s (%.0f)\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f%% (%.1f)\t%.1f/%.1f/%.1f\t%d\t%d\t%d\t%d\t%d\t%s\t\n",
			r.Order, r.Run, r.LinesPerS, r.WriteRate, r.CLIUsLine, r.CLIPct, r.ToolUs, r.WriterUs, r.DaemonsUs, r.DaemonPct, pcts(r.CPUsBusy), r.OthersPct,
			r.P50, r.P99, r.Max, r.RateCLIPct, 100*r.WriteOrderOK, r.WorstInversion,
			float64(r.RSSConnected)/1024, float64(r.RSSEnd)/1024, float64(r.RSSPeak)/1024,
			r.Lost, r.Repeated, r.Reordered, r.Misattributed, r.Stray, r.Limited)
	}
	tw.Flush()
	fmt.Fprintln(w, "each order, median (min–max) of its runs:")
	for _, f := range s.Orders {
		fmt.Fprintf(w, "  %-7s  %d runs: %s lines/s, CLI %s µs/line (%s at -rate), p50 %s ms, p99 %s ms, CLI RSS %s MiB at the end, peak %s MiB\n",
			f.Order, f.Runs, f.LinesPerS, f.CLIUsLine, f.RateCLIUs, f.P50, f.P99, f.RSSEndMiB, f.RSSPeak)
	}
	if s.CPURatio.Median > 0 {
		fmt.Fprintf(w, "--order time ÷ arrival, each round's runs: CPU per line %s×, lines/s %s×\n", s.CPURatio, s.RateRatio)
	}
	if s.Inotify > 0 {
		fmt.Fprintf(w, "warning: %d daemons held no inotify watch: they followed their files by polling\n", s.Inotify)
	}
	if s.Note != "" {
		fmt.Fprintln(w, "note:", s.Note)
	}
	for _, r := range s.Runs {
		for _, l := range r.Notes {
			fmt.Fprintf(w, "logtail (%s, run %d): %s\n", r.Order, r.Run, l)
		}
	}
}

// lineTemplate writes the lines of lineMaker's layout as a copy of one
// line with its numbers filled in: the writer shares its CPU with the CLI
// it measures, so it spends as little as it can.
type lineTemplate []byte

func newLineTemplate(m lineMaker) lineTemplate { return m.appendLine(nil, 0, 0) }

func (t lineTemplate) append(b []byte, seq, now int64) []byte {
	n := len(b)
	b = append(b, t...)
	putDigits(b[n+seqOff:n+seqOff+seqLen], uint64(seq))
	putDigits(b[n+timeOff:n+timeOff+timeLen], uint64(now))
	return b
}

// putDigits writes v in decimal into b, right-aligned, zero-padded.
func putDigits(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

// setPipeSize sets the capacity of the pipe p reads (Linux's F_SETPIPE_SZ).
func setPipeSize(p io.Reader, size int) error {
	f, ok := p.(*os.File)
	if !ok {
		return errors.New("-pipe-bytes: not a pipe")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	const setPipeSz = 1031 // F_SETPIPE_SZ
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_FCNTL, fd, setPipeSz, uintptr(size))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return fmt.Errorf("-pipe-bytes %d: %w (at most /proc/sys/fs/pipe-max-size)", size, errno)
	}
	return nil
}

// pcts is "a/b/…" of whole percents.
func pcts(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strings.Join(s, "/")
}

func roundUp(v, to int64) int64 { return (v + to - 1) / to * to }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ownNanos is this process's CPU time in ns, ended threads included
// (the writer's), its children left out (the daemons and the CLI).
func ownNanos() int64 { return rusageNanos(syscall.RUSAGE_SELF) }

// rusageThread is Linux's RUSAGE_THREAD: the calling thread alone.
const rusageThread = 1

func rusageNanos(who int) int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(who, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// onThread runs f on a thread of its own and returns the CPU time that
// thread spent: the writer's, told apart from the reader's. (Bound beside
// the daemons instead, the writer got a hundredth of their CPU and set the
// pace of everything.)
func onThread(f func() error) (int64, error) {
	var ns int64
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		ns0 := rusageNanos(rusageThread)
		err := f()
		ns = rusageNanos(rusageThread) - ns0
		done <- err
	}()
	err := <-done
	return ns, err
}

// podReader reads what the CLI prints: each line's pod (seq%n), checked
// against its prefix; lost, repeated and reordered lines per pod; the
// latency phase's write→print times and write order; and when the
// throughput phase's lines came.
type podReader struct {
	n       int64
	token   []byte
	probe   []byte
	sources [][]byte // what pod k's lines start with; nil: no prefixes
	latN    int64    // lines [0, latN) are the latency phase's
	total   int64

	mu            sync.Mutex
	changed       *sync.Cond
	err           error // the pipe's end
	probed        []bool
	seen          []uint64 // bitset of seq
	got           int64
	repeated      int64
	reordered     int64 // within a pod
	misattributed int64
	stray         int64
	lastK         []int64 // the last line number printed of each pod
	maxTs         int64   // the latest write time printed, latency phase
	inverted      int64   // latency-phase lines printed after a later-written one
	worst         int64   // the most such a line was written before the latest printed, ns
	lat           []int64 // ns
	tputGot       int64
	t10, t90      int64 // when the throughput phase's 10% and 90% line came
	timeline      []mark
	last          int64
}

func newPodReader(n int, id runID, sources [][]byte, latN, total int64) *podReader {
	r := &podReader{n: int64(n), token: id.token, probe: append(slices.Clip(id.probe), " probe "...), sources: sources,
		latN: latN, total: total, probed: make([]bool, n), seen: make([]uint64, (total+63)/64),
		lastK: make([]int64, n), lat: make([]int64, 0, latN)}
	for k := range r.lastK {
		r.lastK[k] = -1
	}
	r.changed = sync.NewCond(&r.mu)
	return r
}

// run reads the pipe to its end.
func (r *podReader) run(pipe io.Reader) {
	buf := make([]byte, 1<<20)
	have := 0
	for {
		k, err := pipe.Read(buf[have:])
		now := time.Now().UnixNano()
		have += k
		used := 0
		r.mu.Lock()
		for {
			i := bytes.IndexByte(buf[used:have], '\n')
			if i < 0 {
				break
			}
			r.line(buf[used:used+i], now)
			used += i + 1
		}
		if err != nil {
			r.err = err
		}
		if n := len(r.timeline); r.tputGot > 0 && (n == 0 || r.timeline[n-1].n != r.tputGot) {
			r.timeline = append(r.timeline, mark{at: now, n: r.tputGot})
		}
		r.changed.Broadcast()
		r.mu.Unlock()
		if err != nil {
			return
		}
		have = copy(buf, buf[used:have])
		if have == len(buf) { // a line longer than the buffer: not ours
			have = 0
		}
	}
}

// line counts one printed line (under mu).
func (r *podReader) line(l []byte, now int64) {
	i := bytes.Index(l, r.token)
	if i < 0 || len(l)-i < headerLen-1 {
		if j := bytes.Index(l, r.probe); j >= 0 {
			if k, err := strconv.Atoi(string(l[j+len(r.probe):])); err == nil && k >= 0 && k < len(r.probed) {
				r.probed[k] = true
				return
			}
		}
		r.stray++
		return
	}
	seq, ok1 := parseDigits(l[i+seqOff : i+seqOff+seqLen])
	ts, ok2 := parseDigits(l[i+timeOff : i+timeOff+timeLen])
	if !ok1 || !ok2 || seq >= r.total {
		r.stray++
		return
	}
	pod, k := seq%r.n, seq/r.n
	if r.sources != nil && !bytes.HasPrefix(l, r.sources[pod]) {
		r.misattributed++
	}
	w, bit := seq>>6, uint64(1)<<(seq&63)
	if r.seen[w]&bit != 0 {
		r.repeated++
		return
	}
	r.seen[w] |= bit
	r.got++
	if k < r.lastK[pod] {
		r.reordered++
	} else {
		r.lastK[pod] = k
	}
	if seq < r.latN {
		r.lat = append(r.lat, now-ts)
		if ts < r.maxTs {
			r.inverted++
			r.worst = max(r.worst, r.maxTs-ts)
		} else {
			r.maxTs = ts
		}
		return
	}
	r.tputGot++
	r.last = now
	tput := r.total - r.latN
	if r.tputGot == max(1, tput/10) {
		r.t10 = now
	}
	if r.tputGot == max(1, tput*9/10) {
		r.t90 = now
	}
}

func (r *podReader) unprobed() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unprobedLocked()
}

func (r *podReader) unprobedLocked() []int {
	var out []int
	for k, ok := range r.probed {
		if !ok {
			out = append(out, k)
		}
	}
	return out
}

// wait waits up to d for cond (called under mu), the pipe's end or ctx.
func (r *podReader) wait(ctx context.Context, d time.Duration, cond func() bool) error {
	wake := func() {
		r.mu.Lock()
		r.changed.Broadcast()
		r.mu.Unlock()
	}
	stop := context.AfterFunc(ctx, wake)
	defer stop()
	// the deadline first: the timer cannot fire before it, so a wake that
	// comes before this goroutine waits finds the deadline past
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(time.Until(deadline), wake)
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !cond() && time.Now().Before(deadline) {
		if r.err != nil {
			return fmt.Errorf("logtail's output ended: %w", r.err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r.changed.Wait()
	}
	return nil
}

// errStalled: the CLI printed nothing for a while, short of the lines
// written.
var errStalled = errors.New("logtail stalled")

// waitLines waits until n lines came, or none came for stall (errStalled).
func (r *podReader) waitLines(ctx context.Context, n int64, stall time.Duration) error {
	for {
		r.mu.Lock()
		got := r.got
		r.mu.Unlock()
		if got >= n {
			return nil
		}
		if err := r.wait(ctx, stall, func() bool { return r.got != got }); err != nil {
			return err
		}
		r.mu.Lock()
		moved := r.got != got
		r.mu.Unlock()
		if !moved {
			return fmt.Errorf("%w: %d lines of %d printed, then none for %v", errStalled, got, n, stall)
		}
	}
}

// podStats are the reader's figures once the CLI has ended.
type podStats struct {
	got, repeated, reordered, misattributed, stray int64
	p50, p99, max                                  float64 // ms
	inWriteOrder                                   float64
	worstMs                                        float64
	t10, t90, last                                 int64
	timeline                                       []mark
}

func (r *podReader) stats() podStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := podStats{got: r.got, repeated: r.repeated, reordered: r.reordered, misattributed: r.misattributed, stray: r.stray,
		t10: r.t10, t90: r.t90, last: r.last, timeline: r.timeline}
	if len(r.lat) > 0 {
		l := slices.Sorted(slices.Values(r.lat))
		q := func(f float64) float64 { return float64(l[int(f*float64(len(l)-1))]) / 1e6 }
		s.p50, s.p99, s.max = q(0.5), q(0.99), q(1)
		s.inWriteOrder = 1 - float64(r.inverted)/float64(len(l))
		s.worstMs = float64(r.worst) / 1e6
	}
	return s
}

// mark is how many of the throughput phase's lines had been printed at a
// time (ns).
type mark struct{ at, n int64 }

// rate is the throughput phase's lines printed a second over [from, to]
// (ns): the lines counted at the last read at or before each end.
func (s podStats) rate(from, to int64) float64 {
	if to <= from {
		return 0
	}
	return float64(s.printedBy(to)-s.printedBy(from)) / (float64(to-from) / 1e9)
}

// printedBy is how many of the throughput phase's lines were printed at t
// (ns): as counted at the last read at or before it.
func (s podStats) printedBy(t int64) int64 {
	i, _ := slices.BinarySearchFunc(s.timeline, t, func(m mark, t int64) int { return cmp.Compare(m.at, t+1) })
	if i == 0 {
		return 0
	}
	return s.timeline[i-1].n
}
