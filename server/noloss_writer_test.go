package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The no-loss tests' writer is an application logging to app.log in a
// process of its own (the test binary run again), as in production: it
// shares no scheduler, descriptor or lock with the daemon. It runs a
// writerPlan, records what it did for the checker (writerEvent, one JSON
// object a line) and talks to the test over two pipes when the test must act
// at a precise point of the plan (start the clients, restart the daemon).

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
