package server

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The no-loss tests' schedule: a writerPlan of operations drawn from a seed,
// the control messages the writer and the test exchange, the record the
// writer keeps (writerEvent) and the lines it writes.

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
