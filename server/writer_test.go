package server

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The no-loss tests' writer is an application logging to app.log in a
// process of its own (the test binary run again), as in production: it
// shares no scheduler, descriptor or lock with the daemon. It runs a
// writerPlan, records what it did for the checker (writerEvent, one JSON
// object a line) and talks to the test over two pipes when the test must act
// at a precise point of the plan (start the clients, restart the daemon).

// writerEnv names the plan file; without it TestNoLossWriterProcess is a no-op.
const writerEnv = "LOGTAIL_NOLOSS_WRITER"

// Control messages. The writer says ready, sync N, restart and up; the test
// answers go (or down after restart).
const (
	ctlReady   = "ready"   // app.log exists and is empty: start the clients
	ctlSync    = "sync"    // wait until the clients have line N (a quiet moment)
	ctlRestart = "restart" // stop the daemon; the next ops run while it is down
	ctlDown    = "down"
	ctlUp      = "up" // start the daemon again and let the clients come back
	// drop the clients' connections: they resume from their last position
	ctlReconnect = "reconnect"
	ctlGo        = "go"
)

// Kinds of operation.
const (
	opAppend       = "append"
	opRotate       = "rotate"       // rename to a rotation name, create app.log
	opCopyTruncate = "copytruncate" // copy to a rotation name, truncate app.log
	opTruncate     = "truncate"     // cut app.log to 0: its unread lines are lost
	opRecreate     = "recreate"     // remove app.log, create it again
	opAbsent       = "absent"       // rename, write on to the old descriptor for Hold, then create
	opCompress     = "compress"     // gzip the oldest rotated file and remove it
	opBurst        = "burst"        // Rotations rotations (or switches), Lines lines after each, no pause
	opSwitch       = "switch"       // symlink plans: a new target, then the link renamed over app.log
	opRestart      = "restart"      // the next Down ops run while the daemon is down
	opSync         = "sync"         // wait until the clients have every line written so far
	opReuseInode   = "reuse-inode"  // remove app.log, create it with the same inode and size
	opReconnect    = "reconnect"    // the clients' connections drop; they resume
)

// writerPlan is a schedule and how to run it. It depends only on its seed
// (or on the scenario that wrote it), never on timing.
type writerPlan struct {
	Seed    uint64 `json:"seed"`
	Root    string `json:"root"`
	Record  string `json:"record"`  // where the writer logs what it did
	Symlink bool   `json:"symlink"` // app.log is a link to targets/t<N>.log
	// Naming of rotated files: "numbered" (app.log.1, shifted), "dash"
	// (app.log-<n>) or "lumberjack" (app-<timestamp>.log).
	Naming string `json:"naming"`
	Keep   int    `json:"keep"` // rotated files (or old symlink targets) kept; 0 keeps all
	// LineBytes fixes every line's size (newline included); 0 draws it from
	// 10 to 300 by the line's seq.
	LineBytes int `json:"line_bytes,omitempty"`
	// MinLife: while the daemon is up, no generation is removed, truncated,
	// compressed or unlinked younger than this. A file created and destroyed
	// between two looks of the daemon leaves no trace it could report; the
	// checker could not tell a correct daemon from a lossy one there.
	MinLife time.Duration `json:"min_life"`
	Ops     []writerOp    `json:"ops"`
}

type writerOp struct {
	Kind      string        `json:"kind"`
	Lines     int           `json:"lines,omitempty"`     // append; absent (to the old descriptor); burst (after each rotation); switch (to the new target first)
	Partial   bool          `json:"partial,omitempty"`   // append: the last line waits for the next append for its end
	Rate      int           `json:"rate,omitempty"`      // append: lines a second; 0 writes them at once
	Rotations int           `json:"rotations,omitempty"` // burst
	Hold      time.Duration `json:"hold,omitempty"`      // absent
	Down      int           `json:"down,omitempty"`      // restart
	Reconnect bool          `json:"reconnect,omitempty"` // absent: the clients resume while the name is absent
	Pause     time.Duration `json:"pause,omitempty"`     // after the op
}

func (op writerOp) String() string {
	var s string
	switch op.Kind {
	case opAppend:
		s = fmt.Sprintf("append %d", op.Lines)
		if op.Rate > 0 {
			s += fmt.Sprintf(" at %d/s", op.Rate)
		}
		if op.Partial {
			s += " partial"
		}
	case opBurst:
		s = fmt.Sprintf("burst %d×(rotate, append %d)", op.Rotations, op.Lines)
	case opAbsent:
		s = fmt.Sprintf("absent %v (%d lines to the old file)", op.Hold, op.Lines)
		if op.Reconnect {
			s += ", clients resume meanwhile"
		}
	case opSwitch:
		s = fmt.Sprintf("switch (%d lines to the new target first)", op.Lines)
	case opRestart:
		s = fmt.Sprintf("restart (next %d ops while down)", op.Down)
	default:
		s = op.Kind
	}
	if op.Pause > 0 {
		s += fmt.Sprintf(", pause %v", op.Pause)
	}
	return s
}

// writerEvent is one record of what the writer did.
type writerEvent struct {
	Op     int    `json:"op"` // index in the plan; -1 before the first op
	Kind   string `json:"kind"`
	Gen    int    `json:"gen,omitempty"`
	CopyOf int    `json:"copy_of,omitempty"` // born: a copy of that generation's lines
	First  int    `json:"first,omitempty"`   // lines: the first seq
	Lens   []int  `json:"lens,omitempty"`    // lines: their sizes, newline included
	Detail string `json:"detail,omitempty"`
}

// Kinds of writerEvent besides the ops themselves (Kind "op").
const (
	evLines = "lines" // lines written to Gen
	evBorn  = "born"  // generation Gen starts (a new file, a truncated one, a copy)
	evDied  = "died"  // its lines are no longer readable (removed, truncated, compressed, unlinked)
	evDown  = "down"  // the ops from here on run while the daemon is down
	evUp    = "up"
	evOp    = "op"
)

// lineText is the line with the given seq, generation and size (newline
// included), without its newline. Its filler depends on seq, so that a line
// torn or glued to another is seen.
func lineText(seq, gen, size int) string {
	head := fmt.Sprintf("seq=%06d gen=%d ", seq, gen)
	n := max(size-1, len(head)+1)
	var b strings.Builder
	b.Grow(n)
	b.WriteString(head)
	for i := len(head); i < n; i++ {
		b.WriteByte(byte('a' + (seq+i)%26))
	}
	return b.String()
}

// parseSeq reads the seq and generation at the start of a line.
func parseSeq(line string) (seq, gen int, ok bool) {
	rest, found := strings.CutPrefix(line, "seq=")
	if !found {
		return 0, 0, false
	}
	s, rest, found := strings.Cut(rest, " gen=")
	if !found {
		return 0, 0, false
	}
	g, _, found := strings.Cut(rest, " ")
	if !found {
		return 0, 0, false
	}
	var err1, err2 error
	seq, err1 = strconv.Atoi(s)
	gen, err2 = strconv.Atoi(g)
	return seq, gen, err1 == nil && err2 == nil
}

// lineSize is the size of line seq in plan p, newline included.
func (p *writerPlan) lineSize(seq int) int {
	if p.LineBytes > 0 {
		return p.LineBytes
	}
	return 10 + int(mix64(p.Seed^uint64(seq)*0x9e3779b97f4a7c15)%291)
}

// mix64 is splitmix64's finalizer: a well-spread hash of x.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// noLossPlan draws the schedule of a seed.
func noLossPlan(seed uint64) *writerPlan {
	rng := rand.New(rand.NewPCG(seed, 0x6c6f677461696c))
	p := &writerPlan{Seed: seed, MinLife: 200 * time.Millisecond}
	p.Symlink = rng.IntN(5) == 0
	p.Naming = []string{"numbered", "dash", "lumberjack"}[rng.IntN(3)]
	p.Keep = 2 + rng.IntN(3)
	type weighted struct {
		kind   string
		weight int
	}
	kinds := []weighted{{opAppend, 40}, {opRotate, 10}, {opCopyTruncate, 6}, {opTruncate, 3},
		{opRecreate, 5}, {opAbsent, 4}, {opCompress, 4}, {opBurst, 5}, {opRestart, 3}, {opReconnect, 2}}
	if p.Symlink {
		kinds = []weighted{{opAppend, 45}, {opSwitch, 14}, {opTruncate, 3}, {opBurst, 5}, {opRestart, 3}, {opReconnect, 2}}
	}
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	n := 20 + rng.IntN(15)
	downUntil := -1 // no restart inside another's downtime
	for len(p.Ops) < n {
		r := rng.IntN(total)
		var kind string
		for _, k := range kinds {
			if r -= k.weight; r < 0 {
				kind = k.kind
				break
			}
		}
		op := writerOp{Kind: kind, Pause: time.Duration(rng.IntN(40)) * time.Millisecond}
		switch kind {
		case opAppend:
			op.Lines = 1 + rng.IntN(120)
			op.Partial = rng.IntN(4) == 0
			if rng.IntN(5) == 0 {
				op.Rate = 2000 + rng.IntN(6000)
			}
		case opAbsent:
			op.Hold = time.Duration(50+rng.IntN(251)) * time.Millisecond
			op.Lines = 5 + rng.IntN(36)
			op.Reconnect = rng.IntN(3) == 0
		case opBurst:
			// never more rotations than files kept: what a burst creates is
			// still on disk after it, so losing it is a plain loss
			op.Rotations = 2 + rng.IntN(p.Keep-1)
			op.Lines = 1 + rng.IntN(30)
			op.Pause = 0
		case opSwitch:
			op.Lines = rng.IntN(10)
		case opRestart:
			if len(p.Ops) <= downUntil {
				continue
			}
			op.Down = 1 + rng.IntN(3)
			downUntil = len(p.Ops) + op.Down
		}
		p.Ops = append(p.Ops, op)
	}
	// the last op is an append while the daemon is up, so that the last
	// lines are on disk and say when a client has seen everything
	p.Ops = append(p.Ops, writerOp{Kind: opAppend, Lines: 1 + rng.IntN(50)})
	last := len(p.Ops) - 1
	for i := range p.Ops {
		op := &p.Ops[i]
		if op.Kind == opRestart {
			op.Down = min(op.Down, last-1-i)
			if op.Down <= 0 {
				op.Kind, op.Down, op.Lines = opAppend, 0, 1
			}
		}
		// a line is finished by the next append to the same file
		if op.Partial && p.Ops[i+1].Kind != opAppend {
			op.Partial = false
		}
	}
	return p
}

// TestNoLossWriterProcess is the writer's process: it does nothing unless
// the no-loss tests started it with a plan.
func TestNoLossWriterProcess(t *testing.T) {
	path := os.Getenv(writerEnv)
	if path == "" {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p writerPlan
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	rec, err := os.Create(p.Record)
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{t: t, p: &p, rec: bufio.NewWriter(rec), op: -1,
		ctlOut: os.NewFile(3, "ctl-out"), ctlIn: bufio.NewReader(os.NewFile(4, "ctl-in")),
		born: map[int]time.Time{}, upAt: time.Now()}
	w.enc = json.NewEncoder(w.rec)
	defer func() {
		if err := w.rec.Flush(); err != nil {
			t.Error(err)
		}
		rec.Close()
	}()
	w.run()
}

// writer runs a plan in the writer's process.
type writer struct {
	t      *testing.T
	p      *writerPlan
	rec    *bufio.Writer
	enc    *json.Encoder
	ctlOut *os.File
	ctlIn  *bufio.Reader
	rng    *rand.Rand // the current op's

	op       int // index of the op running
	seq      int // the last seq written
	gen      int // the last generation number given
	cur      *os.File
	curGen   int
	curPath  string // app.log, or the current symlink target
	rotated  []rotatedFile
	targets  []string // symlink plans: old targets, newest first
	names    int      // counter for rotation names, targets, compressed files
	rest     []byte   // the end of a line left unfinished by a partial append
	syncSize int64    // app.log's size at the last sync
	down     bool
	upAt     time.Time         // when the daemon last came back
	born     map[int]time.Time // when each live generation was created
}

// rotatedFile is a rotated log still on disk, uncompressed.
type rotatedFile struct {
	name string
	gen  int
}

func (w *writer) path(name string) string { return filepath.Join(w.p.Root, name) }

func (w *writer) record(ev writerEvent) {
	ev.Op = w.op
	if err := w.enc.Encode(ev); err != nil {
		w.t.Fatal(err)
	}
}

func (w *writer) say(msg string) {
	if _, err := fmt.Fprintln(w.ctlOut, msg); err != nil {
		w.t.Fatalf("telling the test %q: %v", msg, err)
	}
}

func (w *writer) await(want string) {
	line, err := w.ctlIn.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != want {
		w.t.Fatalf("waiting for %q from the test: got %q, %v", want, line, err)
	}
}

func (w *writer) check(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("op %d: %v", w.op, err)
	}
}

func (w *writer) run() {
	w.rng = rand.New(rand.NewPCG(w.p.Seed, 1<<32))
	if w.p.Symlink {
		w.check(os.Mkdir(w.path("targets"), 0o755))
		w.newTarget()
		w.check(os.Symlink(w.curPath, w.path("app.log")))
	} else {
		w.create()
	}
	w.say(ctlReady)
	w.await(ctlGo)
	downLeft := 0
	for i, op := range w.p.Ops {
		w.op = i
		w.rng = rand.New(rand.NewPCG(w.p.Seed, uint64(i)))
		w.record(writerEvent{Kind: evOp, Detail: op.String()})
		w.do(op)
		if op.Kind == opRestart {
			downLeft = op.Down
			continue
		}
		if downLeft > 0 {
			if downLeft--; downLeft == 0 {
				w.record(writerEvent{Kind: evUp})
				w.say(ctlUp)
				w.await(ctlGo)
				w.down, w.upAt = false, time.Now()
			}
		}
		// the pace of the application: not waiting for anything
		time.Sleep(op.Pause)
	}
	if len(w.rest) > 0 {
		w.t.Fatalf("plan ends with an unfinished line")
	}
	w.check(w.cur.Close())
}

func (w *writer) do(op writerOp) {
	switch op.Kind {
	case opAppend:
		w.append(op.Lines, op.Partial, op.Rate)
	case opRotate:
		w.rotate()
	case opCopyTruncate:
		w.copyTruncate()
	case opTruncate:
		w.ripen(w.curGen)
		w.check(os.Truncate(w.curPath, 0))
		w.died(w.curGen, "truncated")
		w.newGen(w.curPath, 0)
	case opRecreate:
		w.ripen(w.curGen)
		w.check(w.cur.Close())
		w.check(os.Remove(w.path("app.log")))
		w.died(w.curGen, "removed")
		w.create()
	case opAbsent:
		w.absent(op.Hold, op.Lines, op.Reconnect)
	case opCompress:
		w.compress()
	case opBurst:
		// the lines are made first, so that the rotations follow each
		// other as fast as the file system allows
		batches := make([]batch, op.Rotations)
		for i := range batches {
			batches[i] = w.makeLines(op.Lines, w.gen+1+i)
		}
		for _, bt := range batches {
			if w.p.Symlink {
				w.switchTarget(0)
			} else {
				w.rotate()
			}
			if w.curGen != bt.gen {
				w.t.Fatalf("burst: lines made for gen %d, but the new file is gen %d", bt.gen, w.curGen)
			}
			w.write(bt.b)
			w.recordLines(bt)
		}
	case opSwitch:
		w.switchTarget(op.Lines)
	case opRestart:
		w.say(ctlRestart)
		w.await(ctlDown)
		w.down = true
		w.record(writerEvent{Kind: evDown})
	case opSync:
		w.say(fmt.Sprintf("%s %d", ctlSync, w.seq))
		w.await(ctlGo)
		fi, err := os.Stat(w.path("app.log"))
		w.check(err)
		w.syncSize = fi.Size()
	case opReuseInode:
		w.reuseInode()
	case opReconnect:
		w.reconnect()
	default:
		w.t.Fatalf("unknown op %q", op.Kind)
	}
}

// newGen starts a generation in the file at path.
func (w *writer) newGen(path string, copyOf int) int {
	w.gen++
	w.born[w.gen] = time.Now()
	rel, _ := filepath.Rel(w.p.Root, path)
	w.record(writerEvent{Kind: evBorn, Gen: w.gen, CopyOf: copyOf, Detail: rel})
	if path == w.curPath {
		w.curGen = w.gen
	}
	return w.gen
}

func (w *writer) died(gen int, why string) {
	delete(w.born, gen)
	w.record(writerEvent{Kind: evDied, Gen: gen, Detail: why})
}

// ripen waits, while the daemon is up, until gen has lived MinLife since
// the daemon could first see it: the application's pace, not a condition.
func (w *writer) ripen(gen int) {
	if w.down {
		return
	}
	since := w.born[gen]
	if w.upAt.After(since) {
		since = w.upAt
	}
	time.Sleep(time.Until(since.Add(w.p.MinLife)))
}

// create creates app.log and makes it the current file.
func (w *writer) create() {
	f, err := os.OpenFile(w.path("app.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
	w.check(err)
	w.cur, w.curPath = f, w.path("app.log")
	w.newGen(w.curPath, 0)
}

// batch is lines made for a generation, recorded when written.
type batch struct {
	b          []byte
	gen, first int
	lens       []int // newline included
}

// makeLines makes the next n lines, for generation gen.
func (w *writer) makeLines(n, gen int) batch {
	bt := batch{gen: gen, first: w.seq + 1, lens: make([]int, n)}
	for i := range n {
		line := lineText(bt.first+i, gen, w.p.lineSize(bt.first+i))
		bt.b = append(append(bt.b, line...), '\n')
		bt.lens[i] = len(line) + 1
	}
	w.seq += n
	return bt
}

func (w *writer) recordLines(bt batch) {
	if len(bt.lens) > 0 {
		w.record(writerEvent{Kind: evLines, Gen: bt.gen, First: bt.first, Lens: bt.lens})
	}
}

// lines makes n lines for the current generation, records them and
// returns them with the size of the last one.
func (w *writer) lines(n int) (b []byte, last int) {
	if n <= 0 {
		return nil, 0
	}
	bt := w.makeLines(n, w.curGen)
	w.recordLines(bt)
	return bt.b, bt.lens[n-1]
}

// write writes b to the current file in one to three pieces: the daemon
// sees lines cut anywhere, as with any application's buffered writes.
func (w *writer) write(b []byte) {
	b = append(w.rest, b...)
	w.rest = nil
	for len(b) > 0 {
		n := len(b)
		if w.rng.IntN(3) == 0 {
			n = 1 + w.rng.IntN(n)
		}
		_, err := w.cur.Write(b[:n])
		w.check(err)
		b = b[n:]
	}
}

func (w *writer) append(n int, partial bool, rate int) {
	if n <= 0 {
		return
	}
	if rate == 0 {
		b, last := w.lines(n)
		if partial {
			// keep back the end of the last line, its newline at least,
			// for the next append
			cut := len(b) - last + 1 + w.rng.IntN(last-1)
			rest := append([]byte(nil), b[cut:]...)
			w.write(b[:cut])
			w.rest = rest
			return
		}
		w.write(b)
		return
	}
	// at rate lines a second, in 10 ms steps: the application's pace
	start, done := time.Now(), 0
	for done < n {
		due := min(n, int(time.Since(start).Seconds()*float64(rate))+1)
		if due > done {
			b, _ := w.lines(due - done)
			w.write(b)
			done = due
		}
		if done < n { // the next op follows the last line at once
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// rotationName makes room for one more rotated file (removing the oldest
// beyond Keep, shifting numbered names) and returns the name for it.
func (w *writer) rotationName() string {
	if w.p.Keep > 0 && len(w.rotated) >= w.p.Keep {
		oldest := w.rotated[len(w.rotated)-1]
		w.ripen(oldest.gen)
		w.check(os.Remove(w.path(oldest.name)))
		w.died(oldest.gen, "removed as the oldest ("+oldest.name+")")
		w.rotated = w.rotated[:len(w.rotated)-1]
	}
	w.names++
	switch w.p.Naming {
	case "numbered":
		for i := len(w.rotated) - 1; i >= 0; i-- {
			to := fmt.Sprintf("app.log.%d", i+2)
			w.check(os.Rename(w.path(w.rotated[i].name), w.path(to)))
			w.rotated[i].name = to
		}
		return "app.log.1"
	case "dash":
		return fmt.Sprintf("app.log-%d", w.names)
	default: // lumberjack: the time of the rotation, made up so that names depend on the seed only
		ts := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC).Add(time.Duration(w.names) * time.Minute)
		return "app-" + ts.Format("2006-01-02T15-04-05.000") + ".log"
	}
}

// rotate renames app.log to a rotation name and creates it again.
func (w *writer) rotate() {
	to := w.rotationName()
	w.check(os.Rename(w.path("app.log"), w.path(to)))
	w.rotated = append([]rotatedFile{{to, w.curGen}}, w.rotated...)
	w.record(writerEvent{Kind: evOp, Detail: "app.log -> " + to})
	w.check(w.cur.Close())
	w.create()
}

// copyTruncate copies app.log to a rotation name, then truncates it, with
// no write in between (logrotate's copytruncate at a quiet moment).
func (w *writer) copyTruncate() {
	w.ripen(w.curGen)
	to := w.rotationName()
	data, err := os.ReadFile(w.path("app.log"))
	w.check(err)
	w.check(os.WriteFile(w.path(to), data, 0o644))
	copyGen := w.newGen(w.path(to), w.curGen)
	w.rotated = append([]rotatedFile{{to, copyGen}}, w.rotated...)
	w.check(os.Truncate(w.path("app.log"), 0))
	w.died(w.curGen, "truncated after its copy to "+to)
	w.newGen(w.curPath, 0)
}

// absent renames app.log away and writes on to the old descriptor for hold,
// as an application does until its SIGHUP; only then is app.log created.
func (w *writer) absent(hold time.Duration, n int, reconnect bool) {
	to := w.rotationName()
	w.check(os.Rename(w.path("app.log"), w.path(to)))
	w.rotated = append([]rotatedFile{{to, w.curGen}}, w.rotated...)
	w.record(writerEvent{Kind: evOp, Detail: "app.log -> " + to + ", still written"})
	// writes at 0, hold/4 ... hold, then at once the new file
	const steps = 5
	for i := range steps {
		if i > 0 {
			time.Sleep(hold / (steps - 1)) // the application's pace
		}
		b, _ := w.lines(n/steps + min(1, max(0, n%steps-i)))
		w.write(b)
		if i == 0 && reconnect {
			w.reconnect()
		}
	}
	w.check(w.cur.Close())
	w.create()
}

// reconnect has the test drop the clients' connections and waits until
// they are back (subscribed again, from their last position).
func (w *writer) reconnect() {
	if w.down {
		return // they are trying already
	}
	w.say(ctlReconnect)
	w.await(ctlGo)
}

// compress gzips the oldest rotated file and removes it: its lines can no
// longer be read as lines.
func (w *writer) compress() {
	if len(w.rotated) == 0 {
		w.record(writerEvent{Kind: evOp, Detail: "nothing to compress"})
		return
	}
	oldest := w.rotated[len(w.rotated)-1]
	w.ripen(oldest.gen)
	data, err := os.ReadFile(w.path(oldest.name))
	w.check(err)
	w.names++
	gz, err := os.Create(w.path(fmt.Sprintf("%s.%d.gz", oldest.name, w.names)))
	w.check(err)
	zw := gzip.NewWriter(gz)
	_, err = zw.Write(data)
	w.check(err)
	w.check(zw.Close())
	w.check(gz.Close())
	w.check(os.Remove(w.path(oldest.name)))
	w.rotated = w.rotated[:len(w.rotated)-1]
	w.died(oldest.gen, "compressed ("+oldest.name+")")
}

// newTarget creates the next symlink target and makes it the current file.
func (w *writer) newTarget() {
	w.names++
	p := w.path(fmt.Sprintf("targets/t%d.log", w.names))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
	w.check(err)
	w.cur, w.curPath = f, p
	w.newGen(p, 0)
}

// switchTarget writes n lines to a new target, then points app.log at it
// atomically (a new link renamed over the old one). The old target is no
// longer the log: its lines count as gone.
func (w *writer) switchTarget(n int) {
	w.ripen(w.curGen)
	old, oldGen, oldFile := w.curPath, w.curGen, w.cur
	w.newTarget()
	b, _ := w.lines(n)
	w.write(b)
	rel, _ := filepath.Rel(w.p.Root, w.curPath)
	w.check(os.Symlink(rel, w.path("app.log.tmp")))
	w.check(os.Rename(w.path("app.log.tmp"), w.path("app.log")))
	w.check(oldFile.Close())
	w.died(oldGen, "unlinked")
	w.targets = append([]string{old}, w.targets...)
	if w.p.Keep > 0 && len(w.targets) > w.p.Keep {
		w.check(os.Remove(w.targets[len(w.targets)-1]))
		w.targets = w.targets[:len(w.targets)-1]
	}
	w.record(writerEvent{Kind: evOp, Detail: "app.log -> " + rel})
}

// reuseInode removes app.log and creates it again until the new file gets
// the old one's inode (ext4 hands a freed inode out again soon), putting
// aside the files that got another. The new file is filled to the old
// file's size with a line ending where the clients' last position (the
// size at the last sync) is, so that nothing but the inode's history tells
// it from the old file.
func (w *writer) reuseInode() {
	fi, err := w.cur.Stat()
	w.check(err)
	oldIno, oldSize := inodeOf(fi), fi.Size()
	// made first: a directory made after the removal would take the inode
	aside := w.path("aside")
	w.check(os.MkdirAll(aside, 0o755))
	w.check(w.cur.Close())
	w.check(os.Remove(w.path("app.log")))
	w.died(w.curGen, "removed")
	const attempts = 2000
	var got []uint64
	for i := range attempts {
		f, err := os.OpenFile(w.path("app.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
		w.check(err)
		fi, err := f.Stat()
		w.check(err)
		if inodeOf(fi) == oldIno {
			w.cur, w.curPath = f, w.path("app.log")
			w.newGen(w.curPath, 0)
			w.record(writerEvent{Kind: evOp, Detail: fmt.Sprintf("inode %d again after %d tries", oldIno, i+1)})
			w.fill(w.syncSize)
			w.fill(oldSize - w.syncSize)
			return
		}
		f.Close()
		got = append(got, inodeOf(fi))
		w.check(os.Rename(w.path("app.log"), filepath.Join(aside, strconv.Itoa(i))))
	}
	w.t.Fatalf("the file system never gave inode %d again in %d creations (it gave %d to %d): "+
		"this test needs one that reuses freed inodes (ext4 does; tmpfs does not)", oldIno, attempts, slices.Min(got), slices.Max(got))
}

// fill appends whole lines of exactly n bytes in all.
func (w *writer) fill(n int64) {
	const minLine, maxLine = 32, 300
	if n > 0 && n < minLine {
		w.t.Fatalf("cannot fill %d bytes with lines of %d bytes or more", n, minLine)
	}
	var b []byte
	var lens []int
	for n > 0 {
		size := int64(minLine + w.rng.IntN(maxLine-minLine+1))
		if n-size < minLine {
			size = n // the last line takes the rest (n < 2*minLine+maxLine)
			if size > maxLine {
				size = n / 2
			}
		}
		line := lineText(w.seq+1+len(lens), w.curGen, int(size))
		if int64(len(line)+1) != size {
			w.t.Fatalf("line of %d bytes came out %d", size, len(line)+1)
		}
		b = append(append(b, line...), '\n')
		lens = append(lens, int(size))
		n -= size
	}
	if len(lens) == 0 {
		return
	}
	w.record(writerEvent{Kind: evLines, Gen: w.curGen, First: w.seq + 1, Lens: lens})
	w.seq += len(lens)
	w.write(b)
}

// inodeOf is a file's inode number.
func inodeOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
