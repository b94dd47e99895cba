package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

const usage = `usage: logtail-bench COMMAND [flags]

commands:
  throughput  a writer appends -lines lines as fast as it can; -clients follow
  latency     one line every 10 ms for -duration; write→receive quantiles
  idle        -streams streams held open for -hold: memory, liveness, fan-out
  lastn       lines=1000 on a 1 GiB file against a 1 MiB file, -repeat times
  html        format=html against format=text, 10% of lines coloured
  filter      logtaild: grep=-grep (1 line in -every matches) against no filter
  deflate     logtaild: the -corpus lines with and without permessage-deflate
  http        logtaild: chunked text/plain and SSE against WebSocket
  files       logtaild: one stream of -files files ('*'): idle CPU, memory and
              inotify watches per file; latency and throughput to random files
  pods        logtail (the CLI) following -daemons daemons at once: lines/s,
              CPU per line, memory, latency; --order time against arrival
              (its defaults: -lines 3000000 -rate 2000 -duration 5s -repeat 2)
  plot        PNG plots from the JSON results in -in, into -out
  serve-floor the floor target's server (started by the tool itself)

Run "logtail-bench COMMAND -h" for the flags.
`

// run is the whole tool; main only adds signals and the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd := args[0]
	switch cmd {
	case "plot":
		return runPlot(args[1:], stdout, stderr)
	case "serve-floor":
		return serveFloor(ctx, args[1:], stderr)
	}
	fs := flag.NewFlagSet("logtail-bench "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	e := &env{stderr: stderr}
	fs.StringVar(&e.dir, "dir", filepath.Join(os.TempDir(), "logtail-bench"), "directory for the log files (logtaild's --root)")
	fs.StringVar(&e.logtaildBin, "logtaild-bin", "", "logtaild binary (default: go build ./cmd/logtaild into -dir)")
	fs.StringVar(&e.websocketdBin, "websocketd", "websocketd", "websocketd binary")
	fs.StringVar(&e.frontailBin, "frontail", "bench/node_modules/.bin/frontail", "frontail binary")
	fs.StringVar(&e.pinServer, "pin-server", "", "CPU list (taskset -c) for the server processes")
	fs.StringVar(&e.pinClients, "pin-clients", "", "CPU list for this tool (the writer and the clients)")
	fs.Func("logtaild-args", "extra logtaild flags, space-separated (e.g. \"--client-queue-bytes 33554432\")", func(v string) error {
		e.logtaildArgs = strings.Fields(v)
		return nil
	})
	fs.DurationVar(&e.heartbeat, "heartbeat", 30*time.Second, "logtaild's --heartbeat-interval")
	targets := fs.String("target", "logtaild", "comma-separated targets: logtaild, websocketd, frontail, floor, noop, tail")
	clients := fs.String("clients", "1", "comma-separated client counts")
	lines := fs.Int64("lines", 200000, "throughput: lines written per run")
	lineBytes := fs.Int("line-bytes", 100, "bytes per line, newline included (≥ 48)")
	format := fs.String("format", "text", "logtaild's format= (text, html)")
	repeat := fs.Int("repeat", 1, "runs per figure (median, min–max)")
	duration := fs.Duration("duration", 30*time.Second, "latency: how long to write one line every 10 ms")
	streams := fs.String("streams", "1000", "idle: comma-separated stream counts")
	hold := fs.Duration("hold", 35*time.Second, "idle: how long to hold the streams before the liveness check")
	fanouts := fs.Int("fanouts", 5, "idle: lines sent one at a time to all streams (fan-out median, min–max)")
	calibrate := fs.Bool("calibrate", true, "throughput: also run the noop ceiling and flag results within 20% of it")
	timeout := fs.Duration("timeout", 10*time.Minute, "stop everything after this long")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file")
	grep := fs.String("grep", markWord, "filter: grep= expression (lines are marked with "+markWord+")")
	every := fs.Int("every", 10, "filter: one line in every this many carries "+markWord)
	nFiles := fs.String("files", "1000", "files: comma-separated file counts")
	rate := fs.Int("rate", 1000, "files: lines a second, one at a time, for -duration (latency)")
	seed := fs.Uint64("seed", 1, "files: the seed of the writer's choice of files")
	corpusPath := fs.String("corpus", "testdata/corpus/debian-apt.log", "deflate: file whose lines (after each line's header) are written, in turn")
	pods := addPodsFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *lineBytes < 48 {
		return fmt.Errorf("-line-bytes %d: want at least 48", *lineBytes)
	}
	counts, err := intList(*clients)
	if err != nil {
		return fmt.Errorf("-clients: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return err
	}
	if e.dir, err = filepath.Abs(e.dir); err != nil {
		return err
	}
	if e.dir, err = filepath.EvalSymlinks(e.dir); err != nil {
		return err
	}
	if err := pinSelf(e.pinClients); err != nil {
		return err
	}
	tlist := strings.Split(*targets, ",")
	if slices.Contains(tlist, targetLogtaild) || cmd == "html" || cmd == "filter" || cmd == "deflate" || cmd == "http" || cmd == "files" || cmd == "pods" {
		if err := e.buildLogtaild(ctx); err != nil {
			return err
		}
	}
	spec := func(target string, c int) sessionSpec {
		return sessionSpec{target: target, clients: c, expect: *lines, lineSize: *lineBytes, format: *format,
			bufSize: 64 << 10, dialers: 8}
	}

	var results []Result
	switch cmd {
	case "throughput":
		for _, c := range counts {
			var ceiling float64
			if *calibrate && !slices.Contains(tlist, targetNoop) {
				sp := spec(targetNoop, c)
				sp.expect = min(*lines, max(20000, 4000000/int64(c)))
				r, err := e.repeatThroughput(ctx, sp, 1)
				if err != nil {
					return fmt.Errorf("noop calibration: %w", err)
				}
				ceiling = r.Total
				results = append(results, r)
			}
			for _, t := range tlist {
				r, err := e.repeatThroughput(ctx, spec(t, c), *repeat)
				if err != nil {
					return fmt.Errorf("throughput %s, %d clients: %w", t, c, err)
				}
				if ceiling > 0 {
					r.Ceiling = ceiling
					r.ClientLimited = r.Total >= 0.8*ceiling
				}
				results = append(results, r)
			}
		}
	case "html":
		for _, f := range []string{"text", "html"} {
			sp := spec(targetLogtaild, counts[0])
			sp.format, sp.ansiEvery = f, 10
			r, err := e.repeatThroughput(ctx, sp, *repeat)
			if err != nil {
				return fmt.Errorf("html: format=%s: %w", f, err)
			}
			r.Kind = "html"
			results = append(results, r)
		}
		if len(results) == 2 && results[0].Total > 0 {
			results[1].Note = fmt.Sprintf("html/text = %.2f", results[1].Total/results[0].Total)
		}
	case "filter", "deflate", "http":
		base := spec(targetLogtaild, 1)
		var specs []sessionSpec
		switch cmd {
		case "filter":
			if *every < 1 {
				return fmt.Errorf("-every %d: want at least 1", *every)
			}
			specs = filterSpecs(base, counts, *grep, *every)
		case "deflate":
			corpus, err := readCorpus(*corpusPath)
			if err != nil {
				return err
			}
			specs = deflateSpecs(base, counts, corpus)
		case "http":
			specs = httpSpecs(base, counts)
		}
		rs, err := e.repeatInterleaved(ctx, specs, *repeat)
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		noteRatios(cmd, rs)
		results = rs
	case "latency":
		for _, c := range counts {
			for _, t := range tlist {
				r, err := e.latencyOnce(ctx, spec(t, c), *duration, 10*time.Millisecond)
				if err != nil {
					return fmt.Errorf("latency %s, %d clients: %w", t, c, err)
				}
				results = append(results, r)
			}
		}
	case "idle":
		ns, err := intList(*streams)
		if err != nil {
			return fmt.Errorf("-streams: %w", err)
		}
		for _, n := range ns {
			for _, t := range tlist {
				r, err := e.idleOnce(ctx, t, n, *hold, *fanouts)
				if err != nil {
					return fmt.Errorf("idle %s, %d streams: %w", t, n, err)
				}
				results = append(results, r)
			}
		}
	case "files":
		ns, err := intList(*nFiles)
		if err != nil {
			return fmt.Errorf("-files: %w", err)
		}
		var frs []filesResult
		for _, n := range ns {
			fr, err := e.filesOnce(ctx, n, *lines, *lineBytes, *rate, *duration, *hold, *seed)
			if err != nil {
				return fmt.Errorf("files %d: %w", n, err)
			}
			frs = append(frs, fr)
		}
		printFiles(stdout, frs)
		if *jsonOut != "" {
			b, _ := json.MarshalIndent(frs, "", "  ")
			if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
				return fmt.Errorf("-json: %w", err)
			}
		}
		return nil
	case "pods":
		return e.runPods(ctx, args, fs, pods, stdout, *jsonOut)
	case "lastn":
		small, err := ensureFile(e.dir, "lastn-1MiB.log", 1<<20)
		if err != nil {
			return fmt.Errorf("lastn: %w", err)
		}
		large, err := ensureFile(e.dir, "lastn-1GiB.log", 1<<30)
		if err != nil {
			return fmt.Errorf("lastn: %w", err)
		}
		for _, t := range tlist {
			for _, f := range []string{small, large} {
				r, err := e.lastn(ctx, t, f, 1000, max(*repeat, 1))
				if err != nil {
					return fmt.Errorf("lastn %s %s: %w", t, f, err)
				}
				results = append(results, r)
			}
		}
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	if cmd == "filter" || cmd == "deflate" || cmd == "http" {
		printFigures15(stdout, results)
	} else {
		printResults(stdout, cmd, results)
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("-json: %w", err)
		}
	}
	return nil
}

// repeatThroughput runs throughputOnce n times: the median run's figures,
// with the range of the totals.
func (e *env) repeatThroughput(ctx context.Context, sp sessionSpec, n int) (Result, error) {
	var rs []Result
	for range max(n, 1) {
		r, err := e.throughputOnce(ctx, sp)
		if err != nil {
			return r, err
		}
		rs = append(rs, r)
	}
	return medianRun(rs), nil
}

// medianRun is the median of runs by total lines/s, with the range of the
// totals and any loss, repeat or reordering that any run saw. It sorts rs.
func medianRun(rs []Result) Result {
	slices.SortFunc(rs, func(a, b Result) int { return cmp.Compare(a.Total, b.Total) })
	m := rs[len(rs)/2]
	m.Runs, m.TotalMin, m.TotalMax = len(rs), rs[0].Total, rs[len(rs)-1].Total
	for _, r := range rs { // any loss in any run shows
		m.Lost, m.Repeated, m.OutOfOrder = max(m.Lost, r.Lost), max(m.Repeated, r.Repeated), max(m.OutOfOrder, r.OutOfOrder)
	}
	return m
}

// buildLogtaild builds the daemon into -dir unless -logtaild-bin names one.
func (e *env) buildLogtaild(ctx context.Context) error {
	return e.buildCmd(ctx, "logtaild", &e.logtaildBin)
}

// buildCmd builds cmd/NAME into -dir as NAME.bin, unless *bin already
// names a binary (given with -NAME-bin).
func (e *env) buildCmd(ctx context.Context, name string, bin *string) error {
	if *bin != "" {
		return nil
	}
	*bin = filepath.Join(e.dir, name+".bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", *bin, "github.com/logtail/logtail/cmd/"+name)
	cmd.Stderr = e.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s (or give -%s-bin): %w", name, name, err)
	}
	return nil
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q: want positive whole numbers", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func printResults(w io.Writer, cmd string, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	defer tw.Flush()
	switch cmd {
	case "throughput", "html":
		fmt.Fprintln(tw, "target\tformat\tclients\tlines\truns\tper client/s\ttotal/s\tmin–max\tlost\trepeated\treordered\tsrv µs/line\tsrv peak RSS KiB\tflag\t")
		for _, r := range rs {
			flagText := r.Note
			if r.ClientLimited {
				flagText = "client-limited " + flagText
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.0f\t%.0f\t%.0f–%.0f\t%d\t%d\t%d\t%.2f\t%d\t%s\t\n", r.Target, r.Format, r.Clients, r.Lines, r.Runs,
				r.PerClient, r.Total, r.TotalMin, r.TotalMax, r.Lost, r.Repeated, r.OutOfOrder, r.CPUPerLineUs, r.PeakRSSKiB, flagText)
		}
	case "latency":
		fmt.Fprintln(tw, "target\tclients\tlines\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\tlost\trepeated\treordered\t")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t\n", r.Target, r.Clients, r.Lines, r.P50, r.P99, r.P999, r.Max, r.Lost, r.Repeated, r.OutOfOrder)
		}
	case "idle":
		fmt.Fprintln(tw, "target\tstreams\tconnected\talive\tRSS KiB/stream\tPSS KiB/stream\tpeak RSS KiB\tfan-out ms (min–max)\treached\tnote\t")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%d\t%.1f (%.1f–%.1f)\t%d\t%s\t\n", r.Target, r.Streams, r.Connected, r.Alive, r.RSSPerStreamKiB, r.PSSPerStreamKiB, r.PeakRSSKiB, r.FanoutMs, r.FanoutMinMs, r.FanoutMaxMs, r.Reached, r.Note)
		}
	case "lastn":
		fmt.Fprintln(tw, "target\tfile bytes\tlines\truns\tmedian ms\tmin ms\tmax ms\tnote\t")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%s\t\n", r.Target, r.FileBytes, r.Lines, r.Runs, r.Ms, r.MsMin, r.MsMax, r.Note)
		}
	}
}
