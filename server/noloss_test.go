package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtail/logtail/wsconn"
)

// The no-loss checker, in the spirit of Jepsen's: a seeded schedule of
// writes, rotations, truncations and daemon restarts (writer_test.go) runs in
// a writer process while clients follow app.log through the daemon; then
// what each client received is checked against what the writer did and what
// is still on disk:
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
// e.g. LOGTAIL_SOAK=500 go test -race -timeout 0 ./cmd/logtaild -run 'TestNoLoss$' -v

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
		t.Logf("failing seeds: %v; replay one with LOGTAIL_SEED=%d go test -race ./cmd/logtaild -run 'TestNoLoss$' -v", failed, failed[0])
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
		t.Errorf("seed %d (hog %v, %s naming, keep %d, symlink %v); replay with\n"+
			"\tgo test -race ./cmd/logtaild -run 'TestNoLoss/seed=%d$' -v   (a CI seed)\n"+
			"\tLOGTAIL_SEED=%d go test -race ./cmd/logtaild -run 'TestNoLoss$' -v\n"+
			"what the writer did:\n%s",
			seed, opts.hog, plan.Naming, plan.Keep, plan.Symlink, seed, seed, res.hist.opsReport())
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
	if !pollFor(20*time.Second, func() bool {
		for i, c := range clients {
			if !cond(i, c) {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("timed out waiting for the clients %s", what)
	}
}

// settleClients waits until every client satisfies done or has received
// nothing for noLossQuiet, up to limit; it reports whether they all did.
func settleClients(clients []*followClient, done func(*followClient) bool, limit time.Duration) bool {
	since := time.Now()
	return pollFor(limit, func() bool {
		for _, c := range clients {
			if !done(c) && time.Since(c.lastMessage(since)) < noLossQuiet {
				return false
			}
		}
		return true
	})
}

// pollFor polls cond every 10 ms until it holds or limit has passed.
func pollFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
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

// followClient follows app.log as `logtail -F` does: format=json from the
// empty file, resuming from the last position it received whenever the
// stream ends (1013 too slow, 1001 daemon stopping, a broken connection) and
// retrying while the daemon refuses or is down. It keeps everything it
// received, in order.
type followClient struct {
	url  string
	slow bool
	done chan struct{}

	mu       sync.Mutex
	items    []streamItem
	count    map[int]int // seq → times received
	maxSeq   int
	last     time.Time // last message
	pos      string
	conns    int
	ends     map[string]int // how streams ended
	conn     *wsconn.Client
	dropped  bool // by drop: the stream's end is ours
	stopping bool
}

// streamItem is a line or an event, as received.
type streamItem struct {
	seq    int // 0 for an event or a line that is not ours
	text   string
	event  string
	reason string
	pos    string
}

func startFollowClient(t *testing.T, u string, slow bool) *followClient {
	c := &followClient{url: u, slow: slow, done: make(chan struct{}), count: map[int]int{}, ends: map[string]int{}, last: time.Now()}
	go c.run()
	t.Cleanup(c.stop)
	return c
}

func (c *followClient) run() {
	defer close(c.done)
	for {
		c.mu.Lock()
		query := "lines=0&tail=1&format=json"
		if c.pos != "" {
			query = "tail=1&format=json&from=" + url.QueryEscape(c.pos)
		}
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := wsconn.Dial(ctx, c.url+"?"+query, wsconn.DialOptions{})
		cancel()
		if !c.attach(conn, err) {
			return
		}
		if err != nil {
			// the daemon is down or stopping: its port is all there is
			// to wait for, so try again soon
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for {
			msg, err := conn.Next()
			if err != nil {
				conn.Close()
				if !c.ended(err) {
					return
				}
				break
			}
			c.receive(msg)
			if c.slow {
				time.Sleep(2 * time.Millisecond) // a slow reader, on purpose
			}
		}
	}
}

// attach records a dial's outcome; it reports false once the client is stopping.
func (c *followClient) attach(conn *wsconn.Client, err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		if conn != nil {
			conn.Close()
		}
		return false
	}
	if err != nil {
		c.ends["refused"]++
		return true
	}
	c.conn = conn
	c.conns++
	return true
}

// ended records how a stream ended; it reports false once the client is stopping.
func (c *followClient) ended(err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return false
	}
	var ce *wsconn.CloseError
	switch {
	case c.dropped:
		c.ends["dropped"]++
		c.dropped = false
	case wsconn.IsClose(err, wsconn.CodeTryAgainLater):
		c.ends["1013"]++
	case wsconn.IsClose(err, wsconn.CodeGoingAway):
		c.ends["1001"]++
	case errors.As(err, &ce):
		c.ends[strconv.Itoa(ce.Code)+" "+ce.Reason]++
	default:
		c.ends["broken"]++
	}
	c.conn = nil
	return true
}

func (c *followClient) receive(msg []byte) {
	var m jsonMsg
	err := json.Unmarshal(msg, &m)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = time.Now()
	if err != nil {
		c.items = append(c.items, streamItem{text: string(msg), event: "not JSON"})
		return
	}
	if m.Event != "" {
		c.items = append(c.items, streamItem{event: m.Event, reason: m.Reason, pos: m.Pos})
	}
	for _, l := range m.Lines {
		seq, _, ok := parseSeq(l)
		if !ok {
			seq = 0
		}
		c.items = append(c.items, streamItem{seq: seq, text: l, pos: m.Pos})
		if ok {
			c.count[seq]++
			c.maxSeq = max(c.maxSeq, seq)
		}
	}
	if m.Pos != "" { // always resume from the last position received
		c.pos = m.Pos
	}
}

// stop ends the client and waits for its goroutine.
func (c *followClient) stop() {
	c.mu.Lock()
	c.stopping = true
	if c.conn != nil {
		c.conn.Close()
	}
	c.mu.Unlock()
	<-c.done
}

// drop closes the client's connection, as a network does: it resumes.
func (c *followClient) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.dropped = true
		c.conn.Close()
	}
}

func (c *followClient) position() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos
}

// attempts counts the dials that came to an answer, accepted or refused.
func (c *followClient) attempts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns + c.ends["refused"]
}

func (c *followClient) connections() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns
}

func (c *followClient) has(seq int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxSeq >= seq
}

func (c *followClient) hasAll(seqs map[int]string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range seqs {
		if c.count[s] == 0 {
			return false
		}
	}
	return true
}

// lastMessage is when the client last received something, or since if later.
func (c *followClient) lastMessage(since time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last.After(since) {
		return c.last
	}
	return since
}

func (c *followClient) endings() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.ends)
}

// history is what the writer did, read back from its record.
type history struct {
	lines  map[int]lineRec // seq → how it was written
	maxSeq int
	gens   map[int]*genRec
	downs  [][2]int // first and last op run while the daemon was down
	ops    []opRec
}

type lineRec struct{ gen, size, op int }

// genRec is a generation: the lines of one file between its creation (or
// truncation, or copy) and its removal, truncation, compression or unlinking.
type genRec struct {
	id         int
	name       string // where it was born
	born, died int    // op indexes; -1 for born before the first op; died -1 while alive
	why        string
	seqs       []int
}

type opRec struct {
	what    string
	details []string
}

func readHistory(t *testing.T, path string) *history {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := &history{lines: map[int]lineRec{}, gens: map[int]*genRec{}}
	note := func(op int, s string) {
		if op >= 0 {
			h.ops[op].details = append(h.ops[op].details, s)
		}
	}
	downAt := 0
	dec := json.NewDecoder(f)
	for {
		var ev writerEvent
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("reading the writer's record: %v", err)
		}
		for len(h.ops) <= ev.Op {
			h.ops = append(h.ops, opRec{})
		}
		switch ev.Kind {
		case evOp:
			if h.ops[ev.Op].what == "" {
				h.ops[ev.Op].what = ev.Detail
			} else {
				note(ev.Op, ev.Detail)
			}
		case evLines:
			g := h.gens[ev.Gen]
			for i, size := range ev.Lens {
				h.lines[ev.First+i] = lineRec{ev.Gen, size, ev.Op}
				g.seqs = append(g.seqs, ev.First+i)
			}
			h.maxSeq = max(h.maxSeq, ev.First+len(ev.Lens)-1)
		case evBorn:
			g := &genRec{id: ev.Gen, name: ev.Detail, born: ev.Op, died: -1}
			if ev.CopyOf != 0 {
				g.seqs = slices.Clone(h.gens[ev.CopyOf].seqs)
				note(ev.Op, fmt.Sprintf("gen %d born: %s, a copy of gen %d", ev.Gen, ev.Detail, ev.CopyOf))
			} else {
				note(ev.Op, fmt.Sprintf("gen %d born: %s", ev.Gen, ev.Detail))
			}
			h.gens[ev.Gen] = g
		case evDied:
			h.gens[ev.Gen].died, h.gens[ev.Gen].why = ev.Op, ev.Detail
			note(ev.Op, fmt.Sprintf("gen %d died: %s", ev.Gen, ev.Detail))
		case evDown:
			downAt = ev.Op + 1
		case evUp:
			h.downs = append(h.downs, [2]int{downAt, ev.Op})
		}
	}
	return h
}

// exempt says whether gen lived and died while the daemon was down.
func (h *history) exempt(g *genRec) bool {
	if g.died < 0 {
		return false
	}
	for _, w := range h.downs {
		if g.born >= w[0] && g.died <= w[1] {
			return true
		}
	}
	return false
}

// unseen says whether line s could never have been seen in gen g: it was
// written while the daemon was down and g was removed before the daemon came
// back, and the client had no line of g before (the daemon could not know
// what g held: a file it never read, whose content came and went while it
// was down).
func (h *history) unseen(g *genRec, s int, delivered func(seq int) bool) bool {
	if h.exempt(g) {
		return true
	}
	op := h.lines[s].op
	for _, w := range h.downs {
		if g.died >= w[0] && g.died <= w[1] && op >= w[0] && op <= w[1] {
			return !slices.ContainsFunc(g.seqs, delivered)
		}
	}
	return false
}

// down says whether op ran while the daemon was down.
func (h *history) down(op int) bool {
	for _, w := range h.downs {
		if op >= w[0] && op <= w[1] {
			return true
		}
	}
	return false
}

func (h *history) describeGen(id int) string {
	g := h.gens[id]
	if g == nil {
		return fmt.Sprintf("gen %d (unknown)", id)
	}
	s := fmt.Sprintf("gen %d: born op %d as %s", id, g.born, g.name)
	if g.died >= 0 {
		s += fmt.Sprintf(", died op %d (%s)", g.died, g.why)
	} else {
		s += ", alive at the end"
	}
	return s
}

// opsReport lists the schedule as the writer ran it.
func (h *history) opsReport() string {
	var b strings.Builder
	for i, op := range h.ops {
		mark := ""
		if h.down(i) {
			mark = " [daemon down]"
		}
		fmt.Fprintf(&b, "\top %2d: %s%s", i, op.what, mark)
		if len(op.details) > 0 {
			fmt.Fprintf(&b, ": %s", strings.Join(op.details, "; "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// rotationNames are the files of the log in its root: app.log and its
// rotated names. Compressed files, old symlink targets and anything else
// are not the log any more.
var rotationNames = regexp.MustCompile(`^(app\.log|app\.log\.\d+|app\.log-\d+|app-.+\.log)$`)

// readOnDisk reads which lines are still on disk, uncompressed, under the
// log's names, and checks that the writer's record says the same.
func readOnDisk(t *testing.T, root string, h *history) map[int]string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	onDisk := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if !rotationNames.MatchString(name) || (name != "app.log" && !e.Type().IsRegular()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, name)) // app.log through its link, if one
		if err != nil {
			t.Fatal(err)
		}
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				t.Fatalf("%s ends with an unfinished line %.40q", name, data)
			}
			line := string(data[:i])
			data = data[i+1:]
			seq, gen, ok := parseSeq(line)
			rec := h.lines[seq]
			if !ok || rec.gen != gen || line != lineText(seq, gen, rec.size) {
				t.Fatalf("%s holds a line the writer did not write: %.60q", name, line)
			}
			if other, dup := onDisk[seq]; dup {
				t.Fatalf("seq %d is both in %s and in %s", seq, other, name)
			}
			onDisk[seq] = name
		}
	}
	alive := 0
	for _, g := range h.gens {
		if g.died >= 0 {
			continue
		}
		for _, s := range g.seqs {
			alive++
			if _, ok := onDisk[s]; !ok {
				t.Fatalf("seq %d of %s is not on disk", s, h.describeGen(g.id))
			}
		}
	}
	if alive != len(onDisk) {
		t.Fatalf("%d lines on disk, but the writer's record has %d in living generations", len(onDisk), alive)
	}
	return onDisk
}

// verdict is what the checker found in one client's stream.
type verdict struct {
	written, onDisk, delivered   int
	gaps, truncations, rotations int
	lostOnDisk                   []int // rule 1
	repeated                     []int // rule 2
	disorder                     [][2]int
	corrupt                      []string
	unannounced                  []lossRun // rule 3
	announced                    int       // lost, not on disk, under an event
	exempt                       int       // lost while nobody could see them (rule 4)
	ends                         map[string]int
	onDiskAt                     map[int]string
}

// lossRun is a run of seqs lost without an announcement, with the
// delivered seqs around it (0: none).
type lossRun struct{ first, last, after, before int }

func (v *verdict) failed() bool {
	return len(v.lostOnDisk)+len(v.repeated)+len(v.disorder)+len(v.corrupt)+len(v.unannounced) > 0
}

// lostSilently is how many lines were lost without an announcement.
func (v *verdict) lostSilently() int {
	n := 0
	for _, r := range v.unannounced {
		n += r.last - r.first + 1
	}
	return n
}

// checkDelivery checks a client's stream against the writer's history and
// the lines on disk at the end.
func checkDelivery(h *history, onDisk map[int]string, items []streamItem) *verdict {
	v := &verdict{written: h.maxSeq, onDisk: len(onDisk), onDiskAt: onDisk}
	type at struct{ seq, idx int }
	var firsts []at // each seq's first arrival
	count := map[int]int{}
	// announcements[i]: gap and truncated events among items[:i]
	announcements := make([]int, len(items)+1)
	prev := 0
	for i, it := range items {
		announcements[i+1] = announcements[i]
		if it.event != "" {
			switch it.event {
			case "gap":
				v.gaps++
				announcements[i+1]++
			case "truncated":
				v.truncations++
				announcements[i+1]++
			case "rotated":
				v.rotations++
			default:
				v.corrupt = append(v.corrupt, fmt.Sprintf("event %q: %.60q", it.event, it.text))
			}
			continue
		}
		v.delivered++
		rec, ok := h.lines[it.seq]
		if !ok || it.text != lineText(it.seq, rec.gen, rec.size) {
			v.corrupt = append(v.corrupt, fmt.Sprintf("%.80q", it.text))
			continue
		}
		if count[it.seq]++; count[it.seq] > 1 {
			v.repeated = append(v.repeated, it.seq)
			continue
		}
		firsts = append(firsts, at{it.seq, i})
		if it.seq < prev {
			v.disorder = append(v.disorder, [2]int{prev, it.seq})
		}
		prev = it.seq
	}
	for s := range onDisk {
		if count[s] == 0 {
			v.lostOnDisk = append(v.lostOnDisk, s)
		}
	}
	slices.Sort(v.lostOnDisk)

	// a seq's homes: its generation and the copies made of it
	homes := map[int][]*genRec{}
	for _, g := range h.gens {
		for _, s := range g.seqs {
			homes[s] = append(homes[s], g)
		}
	}
	slices.SortFunc(firsts, func(a, b at) int { return a.seq - b.seq })
	for s := 1; s <= h.maxSeq; s++ {
		if _, ok := onDisk[s]; ok || count[s] > 0 {
			continue
		}
		exempt := len(homes[s]) > 0
		for _, g := range homes[s] {
			exempt = exempt && h.unseen(g, s, func(seq int) bool { return count[seq] > 0 })
		}
		if exempt {
			v.exempt++
			continue
		}
		// the lines delivered just before and just after s, in seq order
		j, _ := slices.BinarySearchFunc(firsts, s, func(a at, s int) int { return a.seq - s })
		from, to, after, before := 0, len(items), 0, 0
		if j > 0 {
			from, after = firsts[j-1].idx+1, firsts[j-1].seq
		}
		if j < len(firsts) {
			to, before = firsts[j].idx, firsts[j].seq
		}
		if to > from && announcements[to]-announcements[from] > 0 {
			v.announced++
			continue
		}
		if n := len(v.unannounced); n > 0 && v.unannounced[n-1].last == s-1 && v.unannounced[n-1].after == after {
			v.unannounced[n-1].last = s
			continue
		}
		v.unannounced = append(v.unannounced, lossRun{s, s, after, before})
	}
	return v
}

func (v *verdict) summary() string {
	return fmt.Sprintf("written %d, on disk %d, delivered %d; lost: on disk %d, silently %d, announced %d, while down %d; "+
		"repeated %d, out of order %d, corrupt %d; events: gap %d, truncated %d, rotated %d; streams ended %v",
		v.written, v.onDisk, v.delivered, len(v.lostOnDisk), v.lostSilently(), v.announced, v.exempt,
		len(v.repeated), len(v.disorder), len(v.corrupt), v.gaps, v.truncations, v.rotations, v.ends)
}

// details explains a failed verdict with a few examples of each kind.
func (v *verdict) details(h *history) string {
	const examples = 5
	var b strings.Builder
	if n := len(v.lostOnDisk); n > 0 {
		fmt.Fprintf(&b, "  %d lines still on disk never arrived (rule 1), e.g.:\n", n)
		runs := 0
		for i := 0; i < n && runs < examples; runs++ {
			j := i
			for j+1 < n && v.lostOnDisk[j+1] == v.lostOnDisk[j]+1 && v.onDiskAt[v.lostOnDisk[j+1]] == v.onDiskAt[v.lostOnDisk[i]] {
				j++
			}
			s := v.lostOnDisk[i]
			fmt.Fprintf(&b, "    seq %d–%d (%d lines) in %s; %s\n", s, v.lostOnDisk[j], j-i+1, v.onDiskAt[s], h.describeGen(h.lines[s].gen))
			i = j + 1
		}
	}
	if n := len(v.unannounced); n > 0 {
		fmt.Fprintf(&b, "  %d lines in %d runs lost without a gap or truncated event (rule 3), e.g.:\n", v.lostSilently(), n)
		for _, r := range v.unannounced[:min(n, examples)] {
			fmt.Fprintf(&b, "    seq %d–%d (%d lines; %s) between delivered seq %d and %d\n",
				r.first, r.last, r.last-r.first+1, h.describeGen(h.lines[r.first].gen), r.after, r.before)
		}
	}
	if n := len(v.repeated); n > 0 {
		fmt.Fprintf(&b, "  %d lines arrived again (rule 2), e.g. seq %v\n", n, v.repeated[:min(n, examples)])
	}
	if n := len(v.disorder); n > 0 {
		fmt.Fprintf(&b, "  %d lines out of order (rule 2), e.g. (before, after) %v\n", n, v.disorder[:min(n, examples)])
	}
	if n := len(v.corrupt); n > 0 {
		fmt.Fprintf(&b, "  %d lines not as written (rule 2), e.g. %v\n", n, v.corrupt[:min(n, examples)])
	}
	return b.String()
}

// TestNoLossChecker checks the checker on made-up streams: it must pass a
// stream that misses nothing it should have, and fail each kind of loss.
func TestNoLossChecker(t *testing.T) {
	// gen 1 (seqs 1–5) and gen 3 (9–10) and gen 5 (13–14) are on disk;
	// gen 2 (6–8) was removed while the daemon was up; gen 4 (11–12) was
	// born at op 4 and removed at op 5.
	hist := func(gen4Written int, downs ...[2]int) *history {
		h := &history{lines: map[int]lineRec{}, gens: map[int]*genRec{}, maxSeq: 14, downs: downs}
		for _, g := range []struct{ id, born, died, first, last int }{
			{1, -1, -1, 1, 5}, {2, 1, 2, 6, 8}, {3, 2, -1, 9, 10}, {4, 4, 5, 11, 12}, {5, 5, -1, 13, 14},
		} {
			rec := &genRec{id: g.id, born: g.born, died: g.died}
			for s := g.first; s <= g.last; s++ {
				rec.seqs = append(rec.seqs, s)
				op := g.born
				if g.id == 4 && gen4Written != 0 {
					op = gen4Written
				}
				h.lines[s] = lineRec{g.id, 40 + s, op}
			}
			h.gens[g.id] = rec
		}
		return h
	}
	onDisk := map[int]string{}
	for _, s := range []int{1, 2, 3, 4, 5, 9, 10, 13, 14} {
		onDisk[s] = "app.log"
	}
	// stream reads a stream: seqs, or gap, truncated, rotated, torn:N
	stream := func(h *history, spec string) []streamItem {
		var items []streamItem
		for f := range strings.FieldsSeq(spec) {
			if s, ok := strings.CutPrefix(f, "torn:"); ok {
				n, _ := strconv.Atoi(s)
				items = append(items, streamItem{seq: n, text: lineText(n, h.lines[n].gen, h.lines[n].size)[:30]})
				continue
			}
			n, err := strconv.Atoi(f)
			if err != nil {
				items = append(items, streamItem{event: f})
				continue
			}
			items = append(items, streamItem{seq: n, text: lineText(n, h.lines[n].gen, h.lines[n].size)})
		}
		return items
	}
	down := [2]int{4, 5} // gen 4 lived and died while the daemon was down
	tests := []struct {
		name   string
		downs  [][2]int
		stream string
		want   string // the rules broken
		// gen4Written is the op at which gen 4's lines were written
		// (0: when it was born)
		gen4Written int
	}{
		{"everything, once, in order", nil, "1 2 3 4 5 6 7 8 9 10 11 12 13 14", "", 0},
		{"lost lines announced by a gap", [][2]int{down}, "1 2 3 4 5 gap 9 10 13 14", "", 0},
		{"lost lines announced by truncated", [][2]int{down}, "1 2 3 4 5 truncated 9 10 13 14", "", 0},
		{"events around the loss", [][2]int{down}, "rotated 1 2 3 4 5 rotated gap rotated 9 10 13 14", "", 0},
		{"lines seen before a removal may arrive", [][2]int{down}, "1 2 3 4 5 6 7 gap 9 10 11 13 14", "", 0},
		{"gap before the line preceding the loss", [][2]int{down}, "gap 1 2 3 4 5 9 10 13 14", "silent", 0},
		{"gap after the line following the loss", [][2]int{down}, "1 2 3 4 5 9 gap 10 13 14", "silent", 0},
		{"rotated announces nothing", [][2]int{down}, "1 2 3 4 5 rotated 9 10 13 14", "silent", 0},
		{"nothing at all", [][2]int{down}, "1 2 3 4 5 9 10 13 14", "silent", 0},
		{"a line on disk lost, even with a gap", [][2]int{down}, "1 2 3 4 gap 9 10 13 14", "on-disk", 0},
		{"the last line never came", [][2]int{down}, "1 2 3 4 5 gap 9 10 13", "on-disk", 0},
		{"repeated", [][2]int{down}, "1 2 3 4 5 5 gap 9 10 13 14", "repeated", 0},
		{"repeated after a resume", [][2]int{down}, "1 2 3 4 5 gap 9 10 9 10 13 14", "repeated", 0},
		{"out of order", [][2]int{down}, "1 2 3 4 5 gap 10 9 13 14", "disorder", 0},
		{"torn line", [][2]int{down}, "1 2 3 4 5 gap 9 torn:10 13 14", "corrupt on-disk", 0},
		{"a death after the downtime is no excuse", [][2]int{{4, 4}}, "1 2 3 4 5 gap 9 10 13 14", "silent", 0},
		{"without downtime every loss is due", nil, "1 2 3 4 5 gap 9 10 13 14", "silent", 0},
		{"announced separately", nil, "1 2 3 4 5 gap 9 10 truncated 13 14", "", 0},
		// gen 4 born at op 4, its lines written at op 5 while the daemon
		// was down, removed at op 5: nobody could have seen them
		{"written and removed while down", [][2]int{{5, 5}}, "1 2 3 4 5 gap 9 10 13 14", "", 5},
		{"written and removed while down, none announced", [][2]int{{5, 5}}, "1 2 3 4 5 9 10 13 14", "silent", 5},
		{"written and removed while down, but one was seen", [][2]int{{5, 5}}, "1 2 3 4 5 gap 9 10 11 13 14", "silent", 5},
		{"written before the downtime, removed during it", [][2]int{{5, 5}}, "1 2 3 4 5 gap 9 10 13 14", "silent", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hist(tt.gen4Written, tt.downs...)
			v := checkDelivery(h, onDisk, stream(h, tt.stream))
			var got []string
			for _, k := range []struct {
				name string
				n    int
			}{{"silent", len(v.unannounced)}, {"on-disk", len(v.lostOnDisk)}, {"repeated", len(v.repeated)},
				{"disorder", len(v.disorder)}, {"corrupt", len(v.corrupt)}} {
				if k.n > 0 {
					got = append(got, k.name)
				}
			}
			slices.Sort(got)
			want := strings.Fields(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) || v.failed() != (len(want) > 0) {
				t.Errorf("broken rules %v, want %v\n%s\n%s", got, want, v.summary(), v.details(h))
			}
		})
	}
}
