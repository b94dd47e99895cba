package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// The no-loss checker, in the spirit of Jepsen's: a seeded schedule of
// writes, rotations, truncations and daemon restarts (noloss_plan_test.go)
// runs in a writer process (noloss_writer_test.go, noloss_rotate_test.go)
// while clients (noloss_client_test.go) follow app.log through the daemon;
// then what each client received is checked (noloss_check_test.go) against
// what the writer did and what is still on disk (noloss_history_test.go):
//
//  1. every line still on disk arrived, exactly once;
//  2. no line arrived twice, none out of order (one writer: seq order is
//     write order), none torn or glued to another;
//  3. every run of lines that did not arrive and is no longer on disk was
//     announced: a gap or truncated event came after the last line delivered
//     before the run, and before the next line delivered (or the end);
//  4. except lines whose every copy lived and died while the daemon was
//     down: nobody could have seen them.
//
// CI runs noLossCISeeds. Environment:
//
//	LOGTAIL_SEED=1234[,5678]   those seeds only (replay)
//	LOGTAIL_SOAK=500           500 seeds from LOGTAIL_SOAK_FROM (default: from the clock, printed)
//	LOGTAIL_HOG=1|0            force the CPU hog on or off (default: by seed)
//
// e.g. LOGTAIL_SOAK=500 go test -race -timeout 0 ./server -run 'TestNoLoss$' -v

// noLossCISeeds run in CI: about a minute in all under -race on two cores,
// the hog on for a third of them.
var noLossCISeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

const (
	hogEnv = "LOGTAIL_NOLOSS_HOG"
	// noLossQuiet is how long a client may receive nothing before it counts
	// as done: well past the daemon's Grace and PollInterval below.
	noLossQuiet = 2500 * time.Millisecond
	// noLossDeadline bounds the wait for the clients after the writer ended.
	noLossDeadline = 60 * time.Second
)

// noLossConfig is the daemon's configuration in these tests: a renamed file
// is read for a second (more than the writer's longest absent op), and files
// are looked at every 200 ms even without inotify events.
func noLossConfig(c *Config) {
	c.Grace = time.Second
	c.PollInterval = 200 * time.Millisecond
}

func TestNoLoss(t *testing.T) {
	seeds, origin := noLossSeeds(t)
	t.Logf("%d seeds (%s)", len(seeds), origin)
	var failed []uint64
	for _, seed := range seeds {
		if !t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runNoLossSeed(t, seed) }) {
			failed = append(failed, seed)
		}
	}
	if len(failed) > 0 {
		t.Logf("failing seeds: %v; replay one with LOGTAIL_SEED=%d go test -race ./server -run 'TestNoLoss$' -v", failed, failed[0])
	}
}

// noLossSeeds reads which seeds to run from the environment.
func noLossSeeds(t *testing.T) ([]uint64, string) {
	if s := os.Getenv("LOGTAIL_SEED"); s != "" {
		var seeds []uint64
		for f := range strings.SplitSeq(s, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
			if err != nil {
				t.Fatalf("LOGTAIL_SEED=%q: want seeds separated by commas", s)
			}
			seeds = append(seeds, n)
		}
		return seeds, "LOGTAIL_SEED"
	}
	if s := os.Getenv("LOGTAIL_SOAK"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("LOGTAIL_SOAK=%q: want a number of seeds", s)
		}
		from := uint64(time.Now().UnixNano()) % 1_000_000_000
		if f := os.Getenv("LOGTAIL_SOAK_FROM"); f != "" {
			if from, err = strconv.ParseUint(f, 10, 64); err != nil {
				t.Fatalf("LOGTAIL_SOAK_FROM=%q: want a seed", f)
			}
		}
		seeds := make([]uint64, n)
		for i := range seeds {
			seeds[i] = from + uint64(i)
		}
		return seeds, fmt.Sprintf("soak from LOGTAIL_SOAK_FROM=%d", from)
	}
	return noLossCISeeds, "CI seeds"
}

// noLossHog says whether a seed runs with the CPU hog: a third of them,
// unless LOGTAIL_HOG says otherwise.
func noLossHog(seed uint64) bool {
	switch os.Getenv("LOGTAIL_HOG") {
	case "1":
		return true
	case "0":
		return false
	}
	return seed%3 == 0
}

func runNoLossSeed(t *testing.T, seed uint64) {
	plan := noLossPlan(seed)
	// Some seeds have a second client that reads slowly: the follower then
	// goes at its pace, and falls behind the rotations.
	opts := noLossOptions{clients: 1 + int(seed%2), slow: seed%2 == 1, hog: noLossHog(seed)}
	res := runNoLoss(t, plan, opts)
	failed := false
	for i, v := range res.verdicts {
		t.Logf("client %d: %s", i, v.summary())
		if v.failed() {
			failed = true
			t.Errorf("client %d:\n%s", i, v.details(res.hist))
		}
	}
	if failed {
		hog := "LOGTAIL_HOG=0 "
		if opts.hog {
			hog = "LOGTAIL_HOG=1 "
		}
		t.Errorf("seed %d (hog %v, %s naming, keep %d, symlink %v); replay with\n"+
			"\t%sLOGTAIL_SEED=%d go test -race ./server -run 'TestNoLoss$' -v\n"+
			"what the writer did:\n%s",
			seed, opts.hog, plan.Naming, plan.Keep, plan.Symlink, hog, seed, res.hist.opsReport())
	}
}

// noLossOptions tune a run besides its plan.
type noLossOptions struct {
	clients int  // each follows from the empty file and resumes through 1013, 1001 and refusals
	slow    bool // the last client reads a frame every 2 ms at most
	hog     bool // two cores kept busy by another process
	tweak   func(*Config)
}

// noLossResult is what a run gives the checks.
type noLossResult struct {
	hist     *history
	onDisk   map[int]string // seq → the file holding it at the end
	streams  [][]streamItem // what each client received
	verdicts []*verdict
}

// runNoLoss runs plan's writer against a daemon followed by clients, then
// checks each client.
func runNoLoss(t *testing.T, plan *writerPlan, opts noLossOptions) *noLossResult {
	t.Helper()
	root, work := t.TempDir(), t.TempDir()
	plan.Root, plan.Record = root, filepath.Join(work, "record.jsonl")
	planPath := filepath.Join(work, "plan.json")
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(planPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tweak := func(c *Config) {
		noLossConfig(c)
		if opts.tweak != nil {
			opts.tweak(c)
		}
	}
	td := startDaemonAt(t, root, "127.0.0.1:0", tweak)
	addr := td.addr
	if opts.hog {
		startHog(t)
	}
	start := time.Now()
	wp := startWriter(t, planPath)

	clients := make([]*followClient, opts.clients)
	logPath := filepath.Join(root, "app.log")
	for msg := range wp.messages(t) {
		switch {
		case msg == ctlReady:
			for i := range clients {
				clients[i] = startFollowClient(t, "ws://"+addr+logPath, opts.slow && i == len(clients)-1)
			}
			// the clients stand at the start of the empty file before the first line
			waitClients(t, clients, "to follow the empty file", func(_ int, c *followClient) bool { return c.position() != "" })
			wp.say(t, ctlGo)
		case strings.HasPrefix(msg, ctlSync+" "):
			n, _ := strconv.Atoi(strings.TrimPrefix(msg, ctlSync+" "))
			// a quiet moment: the clients have all there is, or give up
			settleClients(clients, func(c *followClient) bool { return c.has(n) }, 20*time.Second)
			wp.say(t, ctlGo)
		case msg == ctlReconnect:
			// every client but the first (another viewer, which keeps the
			// file followed), or the only one
			drop := clients[min(1, len(clients)-1):]
			before := make([]int, len(drop))
			for i, c := range drop {
				before[i] = c.attempts()
				c.drop()
			}
			// back, or refused and trying again: the writer may go on
			waitClients(t, drop, "to resume", func(i int, c *followClient) bool { return c.attempts() > before[i] })
			wp.say(t, ctlGo)
		case msg == ctlRestart:
			td.shutdown()
			wp.say(t, ctlDown)
		case msg == ctlUp:
			before := make([]int, len(clients))
			for i, c := range clients {
				before[i] = c.connections()
			}
			td = startDaemonAt(t, root, addr, tweak)
			// the clients are back (subscribed) before the writer goes on
			waitClients(t, clients, "to come back", func(i int, c *followClient) bool { return c.connections() > before[i] })
			wp.say(t, ctlGo)
		default:
			t.Fatalf("writer said %q", msg)
		}
	}
	if err := wp.wait(); err != nil {
		t.Fatalf("writer: %v\n%s", err, wp.out.String())
	}
	wrote := time.Now()
	hist := readHistory(t, plan.Record)
	onDisk := readOnDisk(t, root, hist)
	if !settleClients(clients, func(c *followClient) bool { return c.hasAll(onDisk) }, noLossDeadline) {
		t.Logf("clients still receiving after %v", noLossDeadline)
	}
	t.Logf("the writer took %v, the clients %v more", wrote.Sub(start).Round(time.Millisecond), time.Since(wrote).Round(time.Millisecond))
	res := &noLossResult{hist: hist, onDisk: onDisk}
	for _, c := range clients {
		c.stop()
		v := checkDelivery(hist, onDisk, c.items)
		v.ends = c.endings()
		res.streams = append(res.streams, c.items)
		res.verdicts = append(res.verdicts, v)
	}
	return res
}

// waitClients waits until cond holds for every client, failing after 20 s.
func waitClients(t *testing.T, clients []*followClient, what string, cond func(int, *followClient) bool) {
	t.Helper()
	testutil.WaitFor(t, "the clients "+what, 20*time.Second, func() bool {
		for i, c := range clients {
			if !cond(i, c) {
				return false
			}
		}
		return true
	})
}

// settleClients waits until every client satisfies done or has received
// nothing for noLossQuiet, up to limit; it reports whether they all did.
func settleClients(clients []*followClient, done func(*followClient) bool, limit time.Duration) bool {
	since := time.Now()
	return testutil.Eventually(limit, func() bool {
		for _, c := range clients {
			if !done(c) && time.Since(c.lastMessage(since)) < noLossQuiet {
				return false
			}
		}
		return true
	})
}

// writerProcess is the writer running in another process.
type writerProcess struct {
	cmd  *exec.Cmd
	from *os.File // what the writer says
	to   *os.File // what we answer
	out  *bytes.Buffer
}

// startWriter starts the test binary again as the writer of planPath. It
// talks over two pipes, its descriptors 3 (to us) and 4 (from us).
func startWriter(t *testing.T, planPath string) *writerProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fromR, fromW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	toR, toW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	wp := &writerProcess{from: fromR, to: toW, out: new(bytes.Buffer)}
	wp.cmd = exec.Command(exe, "-test.run=^TestNoLossWriterProcess$", "-test.v", "-test.timeout=5m")
	wp.cmd.Env = append(os.Environ(), writerEnv+"="+planPath)
	wp.cmd.ExtraFiles = []*os.File{fromW, toR}
	wp.cmd.Stdout, wp.cmd.Stderr = wp.out, wp.out
	if err := wp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fromW.Close() // ours are the other ends: EOF when the writer exits
	toR.Close()
	t.Cleanup(func() {
		if wp.cmd.ProcessState == nil {
			wp.cmd.Process.Kill()
			wp.cmd.Wait()
		}
		fromR.Close()
		toW.Close()
	})
	return wp
}

// messages yields what the writer says until it closes its end.
func (wp *writerProcess) messages(t *testing.T) func(func(string) bool) {
	return func(yield func(string) bool) {
		r := bufio.NewReader(wp.from)
		for {
			// a writer that says nothing for this long is stuck
			wp.from.SetReadDeadline(time.Now().Add(2 * time.Minute))
			line, err := r.ReadString('\n')
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("reading the writer: %v\n%s", err, wp.out.String())
			}
			if !yield(strings.TrimSpace(line)) {
				return
			}
		}
	}
}

func (wp *writerProcess) say(t *testing.T, msg string) {
	t.Helper()
	if _, err := fmt.Fprintln(wp.to, msg); err != nil {
		t.Fatalf("telling the writer %q: %v", msg, err)
	}
}

func (wp *writerProcess) wait() error { return wp.cmd.Wait() }

// startHog keeps two cores busy in another process until the test ends:
// with the daemon's goroutines preempted at odd moments, ordering bugs show.
func startHog(t *testing.T) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestNoLossHogProcess$")
	cmd.Env = append(os.Environ(), hogEnv+"=1", "GOMAXPROCS=2")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the hog stops when its standard input closes
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
}

// TestNoLossHogProcess is the CPU hog's process: it does nothing unless
// startHog started it.
func TestNoLossHogProcess(t *testing.T) {
	if os.Getenv(hogEnv) == "" {
		return
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
			}
		})
	}
	io.Copy(io.Discard, os.Stdin) // until the test closes it, or dies
	stop.Store(true)
	wg.Wait()
}
