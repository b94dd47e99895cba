package client

import (
	"context"
	"errors"
	"sync"

	"github.com/logtail/logtail/wire"
)

// A Group runs streams that come and go, as FollowAll runs a fixed list:
// Go starts one at any time, handle gets one message at a time (never
// concurrently, so it may write to one output), and an error from handle
// stops every stream. It is what follows the addresses of a Discovery,
// which change while the others run.
//
// Go and GoFunc are called before Wait, or from a goroutine the group
// runs (a discovery loop started by GoFunc); Do, Stop and Fail from any.
type Group struct {
	handle func(*Stream, *wire.Message) error
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // handle and Do, one at a time
	wg     sync.WaitGroup

	errMu sync.Mutex
	err   error // handle's, which stopped the group
}

// NewGroup is a group of no streams yet, which stops when ctx ends.
func NewGroup(ctx context.Context, handle func(*Stream, *wire.Message) error) *Group {
	g := &Group{handle: handle}
	g.ctx, g.cancel = context.WithCancel(ctx)
	return g
}

// Go runs s until it ends, ctx ends or the group stops; then, in s's
// goroutine, ended is called (when set) with Run's result: nil for a clean
// end, a stop by ctx or by the group included.
func (g *Group) Go(ctx context.Context, s *Stream, ended func(error)) {
	g.errMu.Lock()
	defer g.errMu.Unlock()
	if g.ctx.Err() != nil {
		if ended != nil {
			g.wg.Go(func() { ended(nil) }) // never started: a clean end
		}
		return
	}
	g.wg.Go(func() {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(g.ctx, cancel)
		defer stop()
		err := s.Run(ctx, func(m *wire.Message) error {
			g.mu.Lock()
			defer g.mu.Unlock()
			if err := g.handle(s, m); err != nil {
				g.fail(err)
				return errStopped
			}
			return nil
		})
		if errors.Is(err, errStopped) {
			err = nil
		}
		if ended != nil {
			ended(err)
		}
	})
}

// GoFunc runs f in a goroutine the group owns, with a context that ends
// when the group stops; Wait waits for it too.
func (g *Group) GoFunc(f func(ctx context.Context)) {
	g.wg.Go(func() { f(g.ctx) })
}

// errStopped is what a stream's handler returns once the group stopped.
var errStopped = errors.New("stopped: the output failed")

func (g *Group) fail(err error) {
	g.errMu.Lock()
	defer g.errMu.Unlock()
	if g.err == nil {
		g.err = err
	}
	g.cancel()
}

// Do calls f while no handler runs: one at a time with them.
func (g *Group) Do(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f()
}

// Stop ends every stream, as cancelling the group's context does.
func (g *Group) Stop() { g.cancel() }

// Context is the group's: it ends when the group stops.
func (g *Group) Context() context.Context { return g.ctx }

// Stopped is closed when the group stops: its context ended, Stop, or an
// error from handle.
func (g *Group) Stopped() <-chan struct{} { return g.ctx.Done() }

// Wait waits for every stream started to end, and returns handle's error
// if one stopped the group.
func (g *Group) Wait() error {
	g.wg.Wait()
	g.errMu.Lock()
	defer g.errMu.Unlock()
	return g.err
}

// Fail stops the group with err, as an error from handle does (for a
// caller whose own output failed outside handle); Wait returns the first.
func (g *Group) Fail(err error) { g.fail(err) }
