package client

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/logtail/logtail/wire"
)

// DefaultMergeWindow is how long a Merge holds a message by default.
const DefaultMergeWindow = time.Second

// DefaultMergeBytes bounds what a Merge holds by default.
const DefaultMergeBytes = 64 << 20

// perMessage and perLine are what a held message costs besides its text,
// about: the Message, its slices, the entry.
const (
	perMessage = 256
	perLine    = 24
)

// A Merge puts the messages of many streams (each known by a key K: its
// *Stream, or what the caller keeps of it) in the order of the time the
// daemons read their lines (wire.Message.Time), within a window: each
// message is held up to Window after it arrives, and messages are emitted
// in time order. Lines read by the daemons in some order come out in that
// order whenever their delays to here (the network, the daemon's clock
// against the others') differ by less than the window; lines read by one
// daemon in one batch keep their order, and so do the messages of each
// stream, whatever their times (a clock set back).
//
// A message without a time (an event, or a daemon older than the field)
// follows the messages of its stream held before it; a stream that has
// sent no time yet has its messages emitted at once, in arrival order. What
// is held is bounded by MaxBytes: beyond it the earliest messages are
// emitted before their time is up, order loosened, never dropped (OnFull
// says so).
//
// Add may be called from many goroutines; Emit is called one message at a
// time, from Add, Run or Flush. Run releases the messages whose window is
// up and must be running while messages are added.
type Merge[K comparable] struct {
	Window   time.Duration                // 0: DefaultMergeWindow
	MaxBytes int64                        // 0: DefaultMergeBytes
	Emit     func(K, *wire.Message) error // in order; an error ends the Merge
	OnFull   func()                       // messages are emitted early: MaxBytes are held

	mu      sync.Mutex
	byTime  heldHeap[K]
	arrived []*held[K] // by arrival: each one's window ends in this order
	last    map[K]time.Time
	bytes   int64
	seq     uint64
	err     error // Emit's, which ends the Merge
	wake    chan struct{}
}

type held[K comparable] struct {
	s     K
	m     *wire.Message
	at    time.Time // the message's time, or its stream's last before it
	seq   uint64    // arrival order, for equal times
	due   time.Time // when its window is up
	size  int64
	index int // in byTime; -1 once emitted
}

type heldHeap[K comparable] []*held[K]

func (h heldHeap[K]) Len() int { return len(h) }
func (h heldHeap[K]) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h heldHeap[K]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *heldHeap[K]) Push(x any) {
	e := x.(*held[K])
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *heldHeap[K]) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

func (g *Merge[K]) init() {
	if g.last == nil {
		g.last = make(map[K]time.Time)
		g.wake = make(chan struct{}, 1)
	}
}

// Add holds m, a message of s, until its turn; m is kept as it is, and
// must not change. It returns Emit's error once one ended the Merge.
func (g *Merge[K]) Add(s K, m *wire.Message) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	if g.err != nil {
		return g.err
	}
	at, ok := m.ReadTime()
	last, has := g.last[s]
	switch {
	case ok && has && at.Before(last):
		at = last // a stream's order is kept
	case !ok && has:
		at = last
	case !ok:
		return g.emit(s, m) // nothing of s is held: arrival order
	}
	g.last[s] = at
	window := g.Window
	if window <= 0 {
		window = DefaultMergeWindow
	}
	g.seq++
	e := &held[K]{s: s, m: m, at: at, seq: g.seq, due: time.Now().Add(window), size: sizeOf(m)}
	heap.Push(&g.byTime, e)
	g.arrived = append(g.arrived, e)
	g.bytes += e.size
	if len(g.arrived) == 1 {
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}
	maxBytes := g.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMergeBytes
	}
	if g.bytes > maxBytes {
		if g.OnFull != nil {
			g.OnFull()
		}
		for g.bytes > maxBytes && g.err == nil {
			g.pop()
		}
	}
	return g.err
}

// Forget lets go of what the Merge knows of s, which sends no more: the
// time of its last message. What is held of it is emitted in its turn.
func (g *Merge[K]) Forget(s K) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.last, s)
}

func sizeOf(m *wire.Message) int64 {
	n := int64(perMessage + len(m.Partial) + len(m.Pos) + len(m.Time) + len(m.File) + len(m.Reason))
	for _, l := range m.Lines {
		n += int64(perLine + len(l))
	}
	return n + int64(8*len(m.Sizes))
}

// emit hands m on, unless an earlier Emit failed.
func (g *Merge[K]) emit(s K, m *wire.Message) error {
	if g.err != nil {
		return g.err
	}
	g.err = g.Emit(s, m)
	return g.err
}

// pop emits the earliest message held.
func (g *Merge[K]) pop() {
	e := heap.Pop(&g.byTime).(*held[K])
	g.bytes -= e.size
	g.emit(e.s, e.m)
	e.m = nil
}

// release emits, in time order, every message up to each one whose window
// is up at now, and says when the next window ends (zero: nothing held).
func (g *Merge[K]) release(now time.Time) time.Time {
	for len(g.arrived) > 0 {
		e := g.arrived[0]
		if e.index < 0 { // emitted already, before its window was up
			g.arrived[0] = nil
			g.arrived = g.arrived[1:]
			continue
		}
		if e.due.After(now) {
			return e.due
		}
		for e.index >= 0 {
			g.pop()
		}
	}
	g.arrived = nil // let the array go
	return time.Time{}
}

// Run emits the messages held as their window ends, until ctx ends, and
// returns Emit's error if one ended the Merge (then nil once ctx ends).
// What is still held then is for Flush.
func (g *Merge[K]) Run(ctx context.Context) error {
	g.mu.Lock()
	g.init()
	wake := g.wake
	g.mu.Unlock()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		g.mu.Lock()
		next := g.release(time.Now())
		err := g.err
		g.mu.Unlock()
		if err != nil {
			return err
		}
		if !next.IsZero() {
			t.Reset(time.Until(next))
		} else {
			t.Stop()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-t.C:
		}
	}
}

// Flush emits everything held, in time order, and returns Emit's error if
// one ended the Merge.
func (g *Merge[K]) Flush() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.byTime.Len() > 0 && g.err == nil {
		g.pop()
	}
	g.arrived = nil
	return g.err
}
