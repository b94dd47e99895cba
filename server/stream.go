// A followed stream: subscribed to the file's follower, woken when there is
// something to do, one writer per connection (see stream).

package server

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/logtail/logtail/heartbeat"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// frameTarget is the size a frame grows to when lines are waiting: large
// enough to batch well, small enough for a browser to parse at once.
const frameTarget = 32 << 10

// follow sends the last lines, then every new one, until the client leaves,
// the daemon stops, the heartbeat fails or the client falls too far behind.
func (d *Daemon) follow(w http.ResponseWriter, r *http.Request, name string, q wire.Query, done func()) {
	st := &stream{d: d, done: done}
	st.state.Store(running) // set-up owns it; kicks until then ask for a pass
	flt, err := d.filters.get(q.Grep, q.Exclude)
	if err != nil {
		d.refuseStream(w, r, http.StatusBadRequest, err.Error())
		done()
		return
	}
	opt := tailer.Options{Lines: q.Lines, HTML: q.WantHTML(), From: q.From, Notify: st.kick}
	lead, err := d.filteredStart(name, q, flt, &opt) // the last matching lines: a resume
	if err != nil {
		d.refuseErr(w, r, err)
		done()
		return
	}
	sub, err := d.hub.Subscribe(name, opt)
	if err != nil {
		d.refuseErr(w, r, err)
		done()
		return
	}
	hb := heartbeat.New(d.cfg.HeartbeatInterval, d.cfg.HeartbeatTimeout, st.kick)
	c, err := wsconn.Upgrade(w, r, wsconn.Config{Notify: st.kick}, hb.Pong)
	if err != nil {
		d.handshakeFailed(r, err)
		hb.Stop()
		sub.Close()
		done()
		return
	}
	st.s, st.feed, st.hb = newSender(c, q, d.opened(r, name, q)), subFeed{sub}, hb
	st.s.filter(flt, q.From, st.kick)
	if lead != nil {
		st.s.put(lead) // a failed write fails the first pass too
	}
	st.stopQuit = context.AfterFunc(d.quit, st.kick)
	st.stopKill = context.AfterFunc(d.kill, c.Abort)
	// The handler returns: net/http's connection goroutine, its stack and the
	// request go away. From here the stream runs only when kicked.
	go st.run()
}

// stream is one followed stream. While idle it has no goroutine of its own
// (only the connection's reader, parked): the follower (a batch), the reader
// (a frame from the client), the heartbeat's timer and the daemon's stop
// each kick it, and a kick starts a run unless one is under way. A run does
// all there is to do, then ends. At 10,000 idle streams that is a goroutine
// and its stack (4 KiB, as the write path grows it) fewer per stream.
type stream struct {
	d        *Daemon
	s        *sender
	feed     feed
	hb       *heartbeat.Monitor
	done     func()
	stopQuit func() bool
	stopKill func() bool // the drop at the end of --shutdown-timeout
	state    atomic.Int32
}

// A stream's states.
const (
	idle    int32 = iota
	running       // a run is under way
	rerun         // kicked while running: the run makes another pass
	ended
)

// passBytes bounds the frames one pass sends before it looks at the
// client's frames, the heartbeat and the daemon's stop again.
const passBytes = 8 * frameTarget

// kick asks for a run. Safe from any goroutine; never blocks.
func (st *stream) kick() {
	for {
		switch v := st.state.Load(); v {
		case idle:
			if st.state.CompareAndSwap(idle, running) {
				go st.run()
				return
			}
		case running:
			if st.state.CompareAndSwap(running, rerun) {
				return
			}
		default: // rerun already asked, or ended
			return
		}
	}
}

// run makes passes until there is nothing left to do, then goes idle, or
// closes the stream when a pass says it is over.
func (st *stream) run() {
	for {
		p, err := st.pass()
		if p.end || err != nil {
			st.state.Store(ended)
			st.finish(p.code, p.reason, err)
			return
		}
		if p.more {
			continue
		}
		if st.state.CompareAndSwap(running, idle) {
			return
		}
		st.state.Store(running) // kicked meanwhile: look again
	}
}

// passed is what a pass found: the stream is over (end, with the close code
// and reason to send), or lines are still waiting (more), or neither.
type passed struct {
	end    bool
	more   bool
	code   wsconn.CloseCode
	reason string
}

// closing ends the stream with a close frame.
func closing(code wsconn.CloseCode, reason string) passed {
	return passed{end: true, code: code, reason: reason}
}

// pass does what is waiting: the daemon's stop, the client's frames, the
// heartbeat, then the lines, up to passBytes. An error ends the stream
// beyond closing it politely.
func (st *stream) pass() (passed, error) {
	s, feed, hb := st.s, st.feed, st.hb
	if st.d.quit.Err() != nil {
		if err := st.drain(); err != nil {
			return passed{}, err
		}
		return closing(wsconn.CodeGoingAway, "daemon shutting down"), nil
	}
	for frames := true; frames; {
		select {
		case ev := <-s.c.Events():
			switch ev.Kind {
			case wsconn.Ping:
				if err := s.c.Pong(ev.Payload); err != nil {
					return passed{}, err
				}
			case wsconn.PeerClose:
				return closing(ev.Code, ""), nil
			case wsconn.Broken:
				return closing(ev.Code, ev.Reason), nil
			case wsconn.Gone:
				return passed{}, ev.Err
			}
		default:
			frames = false
		}
	}
	select {
	case <-hb.Pongs():
		hb.Answered()
	default:
	}
	if hb.Due() {
		if err := hb.Fire(); err != nil {
			return passed{}, err
		}
		if err := s.c.Ping(); err != nil {
			return passed{}, err
		}
	}
	sent := s.st.bytes
	for s.st.bytes-sent < passBytes {
		b, ok, waiting := feed.take(s)
		if !waiting {
			break
		}
		if !ok {
			if err := s.flush(); err != nil {
				return passed{}, err
			}
			code, reason, err := closeFor(feed.err())
			return closing(code, reason), err
		}
		err := s.put(b) // writes each frame as it fills
		feed.release(b)
		if err != nil {
			return passed{}, err
		}
	}
	more := s.st.bytes-sent >= passBytes
	if err := s.sayRead(false); err != nil {
		return passed{}, err
	}
	err := s.flush()
	st.d.reportSent(s.st)
	if err != nil {
		return passed{}, err
	}
	s.release() // nothing held while the stream is idle
	return passed{more: more}, nil
}

// drain sends, when the daemon stops, what the follower has read for this
// client (at most its queue): the client resumes after it, and a file
// removed or cut while the daemon is down cannot take those lines with it.
// Not inlined into pass, whose frame is under every write.
//
//go:noinline
func (st *stream) drain() error {
	s, feed := st.s, st.feed
	for {
		b, ok, waiting := feed.take(s)
		if !waiting || !ok {
			break
		}
		err := s.put(b)
		feed.release(b)
		if err != nil {
			return err
		}
	}
	if err := s.sayRead(true); err != nil { // how far it has read: a resume starts there
		return err
	}
	err := s.flush()
	st.d.reportSent(s.st)
	return err
}

// feed is where a stream's batches come from: one file's subscription
// (subFeed), or the subscriptions of the files of a stream of many
// (setFeed, set.go).
type feed interface {
	// take is the next batch, if one is waiting (ok is false when the feed
	// has ended: err says why); s is told the file it comes from.
	take(s *sender) (b *tailer.Batch, ok, waiting bool)
	release(b *tailer.Batch) // the batch taken last was sent
	err() error
	close()
}

// subFeed is a stream of one file.
type subFeed struct{ sub *tailer.Subscription }

func (f subFeed) take(*sender) (*tailer.Batch, bool, bool) { return takeBatch(f.sub) }
func (f subFeed) release(b *tailer.Batch)                  { f.sub.Release(b) }
func (f subFeed) err() error                               { return f.sub.Err() }
func (f subFeed) close()                                   { f.sub.Close() }

// takeBatch takes the batch waiting in sub, if one is (ok is false when the
// subscription has ended).
func takeBatch(sub *tailer.Subscription) (b *tailer.Batch, ok, waiting bool) {
	select {
	case b, ok = <-sub.C:
		return b, ok, true
	default:
		return nil, false, false
	}
}

// finish closes a stream that a pass has ended.
func (st *stream) finish(code wsconn.CloseCode, reason string, err error) {
	d, s := st.d, st.s
	st.stopQuit()
	st.stopKill()
	st.hb.Stop()
	s.stopFilter()
	s.release()
	d.reportSent(s.st)
	switch {
	case errors.Is(err, heartbeat.ErrTimeout):
		d.metrics.HeartbeatTimeout()
	case code == wsconn.CodeTryAgainLater:
		d.metrics.SlowClose()
	}
	switch {
	case err != nil:
		s.c.Abort()
	default:
		s.c.Close(code, reason)
	}
	st.feed.close()
	d.closed(s.st, code, err)
	st.done()
}

// closeFor maps why a subscription ended to a close code.
func closeFor(err error) (wsconn.CloseCode, string, error) {
	switch {
	case errors.Is(err, tailer.ErrSlow):
		return wsconn.CodeTryAgainLater, "too slow: fell too far behind; reconnect to resume", nil
	case errors.Is(err, tailer.ErrClosed):
		return wsconn.CodeGoingAway, "daemon shutting down", nil
	default:
		return wsconn.CodeInternal, "cannot read the file", nil
	}
}
