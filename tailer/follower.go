package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/logtail/logtail/wire"
)

// graceTick is how often a renamed-away file is looked at during the grace
// period: it has no inotify watch of its own any more.
const graceTick = 100 * time.Millisecond

// primeLines and primeLineBytes bound what a follower reads before its start
// to learn the colour state it starts in.
const (
	primeLines     = 100
	primeLineBytes = 4 << 10
)

// maxChain bounds the generations a follower holds open besides the current
// one. Beyond it, it reads on and looks for new ones once some are done.
const maxChain = 64

// maxKnown is how many finished generations a follower remembers, so that a
// look into the directory does not take them for new ones.
const maxKnown = 64

// maxBackoff bounds how far apart, in PollIntervals, a follower whose file
// and directory are watched looks at them unasked.
const maxBackoff = 30

// readBufs are the followers' read blocks (and their window), lent for one
// pass: an idle follower holds none.
var readBufs = sync.Pool{New: func() any {
	b := make([]byte, winBytes+readBlock)
	return &b
}}

// follower reads one file by name and fans its lines out. All fields below
// the first group belong to its goroutine.
//
// The file under the name is one generation of the log; rotation moves it
// away (renamed, or deleted) and a new one comes under the name. A follower
// reads every generation to its end, in the order they were written: when
// the name leads to another file, it looks in the directory for the
// generations that were under the name in between (the rotated names tools
// give them, newer than the last one it knows) and reads them first. What it
// cannot read any more, it says: a gap event.
type follower struct {
	hub   *Hub
	name  string
	after <-chan struct{} // the previous follower of this name is gone
	mb    mailbox         // what other goroutines ask of it
	stop  chan struct{}
	done  chan struct{}

	refs     int  // guarded by hub.mu
	stopping bool // guarded by hub.mu

	// chain holds the generations no longer under the name, oldest first;
	// each is read to its end before anything of the next.
	chain []*source
	cur   *source // the file under the name; nil while there is none
	// seen names (inode → birth) the files in the directory that are not
	// new generations: those it has read or reads, their copies, and the
	// rotated files present when it started. A file is new if it is not
	// among them: no watermark of birth times, which are coarse (a burst of
	// rotations shares one) and would hide a file a listing missed.
	seen   map[fileID]int64
	heads  [][]byte // the first bytes of generations it read lately: copies start alike
	failed error    // an open or read error every new subscriber is told

	watcher     *fileWatch // the current file's changes (see watch.go)
	names       *nameWatch // files appearing under the name (see dirwatch.go)
	toldNoWatch bool       // that the file is followed without a watch
	remote      bool       // on a file system whose changes inotify may not see
	// missed is set when a poll found what no event told (a file written
	// through mmap, or a file system that does not say): the follower then
	// polls every PollInterval for good.
	missed bool
	// Files that came under the name, as counted by names, against those
	// the follower found: the difference were gone before it could read them.
	createdBase, createdSeen int64
	found, lost              int64
	pending                  []*Batch // events for when every generation is read
	again                    bool     // a cut queued a copy to read first: read again

	full       atomic.Int64 // subscribers (live or catching up) whose queue is half full
	buf        []byte       // one read block and its window, lent for each pass (see lend)
	bufp       *[]byte      // buf's, for readBufs
	stallTimer *time.Timer  // wakes the follower to look for stalled subscribers
	subs       map[*Subscription]struct{}
	catching   map[*Subscription]*cursor // resuming subscribers not yet live
	html       Renderer                  // nil when the hub renders no HTML
	htmlSubs   int
	poll       *time.Timer   // looks at the file when no event came: a safety net
	pollEvery  time.Duration // the poll's interval now (see schedule)
	polling    bool          // the check under way is the poll's
	turns      int64         // rotations, cuts and files found, for schedule
}

// saturated reports whether a subscriber that is keeping up has a half-full
// queue: then reading on would only pile up memory and, in a burst, drop
// clients that are merely a little slower than the fastest. So the follower
// goes at the pace of its slowest subscriber that is still reading. One that
// has taken nothing for StallAfter is stalled: the others no longer wait for
// it, and it is dropped when its queue overflows.
// With no half-full queue (the usual case) it costs one load, however many
// subscribers there are.
func (f *follower) saturated() bool {
	if f.full.Load() == 0 {
		return false
	}
	now := time.Now().UnixNano()
	stall := int64(f.hub.cfg.StallAfter)
	for s := range f.subs {
		if s.half(s.queued.Load()) && now-s.lastTaken.Load() < stall {
			return true
		}
	}
	return false
}

// wake asks the follower to look again: an inotify event, a subscriber's
// queue drained below half, a stall timer ran out, or something happened in
// the directory. Safe from any goroutine; never blocks.
func (f *follower) wake() { f.post(nil, true, false) }

// pollDue is the poll timer's: look at the files unasked.
func (f *follower) pollDue() { f.post(nil, false, true) }

// mailbox holds what other goroutines ask of a follower. A follower has a
// goroutine only while it has something to do: post starts one when work
// comes to an idle follower, and it ends once the mailbox is empty. So an
// idle followed file holds no goroutine and no stack, which is most of what
// it would cost (a sidecar follows many files that are idle most of the
// time). Goroutines of one follower never overlap: running is handed over
// under mu.
type mailbox struct {
	mu      sync.Mutex
	running bool // a goroutine runs the follower, or it has ended
	reqs    []request
	woken   bool // see wake
	pollDue bool // see pollDue
}

// post puts work in f's mailbox (a request, a wake, the poll), and starts
// f's goroutine if it has none.
func (f *follower) post(r *request, woken, pollDue bool) {
	m := &f.mb
	m.mu.Lock()
	if r != nil {
		m.reqs = append(m.reqs, *r)
	}
	m.woken = m.woken || woken
	m.pollDue = m.pollDue || pollDue
	if m.running {
		m.mu.Unlock()
		return
	}
	m.running = true
	m.mu.Unlock()
	go f.serve()
}

// ask posts r and waits for its reply; ErrClosed if f ended without
// handling it.
func (f *follower) ask(r request) error {
	r.reply = make(chan error, 1)
	f.post(&r, false, false)
	select {
	case err := <-r.reply:
		return err
	case <-f.done:
		select {
		case err := <-r.reply:
			return err
		default:
			return ErrClosed
		}
	}
}

func newFollower(h *Hub, name string, after <-chan struct{}) *follower {
	return &follower{
		mb:       mailbox{running: true}, // the goroutine Subscribe starts
		hub:      h,
		name:     name,
		after:    after,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		subs:     make(map[*Subscription]struct{}),
		catching: make(map[*Subscription]*cursor),
		html:     h.newRenderer(),
	}
}

func (f *follower) log() *slog.Logger { return f.hub.cfg.Logger }

// run is the follower's first goroutine: it waits for the previous
// follower of the name to be gone, starts, and serves.
func (f *follower) run() {
	if f.after != nil {
		select {
		case <-f.after:
		case <-f.stop:
			f.finish()
			return
		}
	}
	f.hub.active.Add(1)
	f.pollEvery = f.hub.cfg.PollInterval
	f.poll = time.AfterFunc(f.pollEvery, f.pollDue)
	f.lend()
	err := f.start()
	f.reclaim()
	if err != nil {
		f.failed = err // told to every subscriber until the last one leaves
		f.poll.Stop()
	}
	f.serve()
}

// serve does what f's mailbox holds until it is empty, then ends; or it
// stops f for good.
func (f *follower) serve() {
	m := &f.mb
	for {
		m.mu.Lock()
		reqs, woken, pollDue := m.reqs, m.woken, m.pollDue
		m.reqs, m.woken, m.pollDue = nil, false, false
		stopped := closed(f.stop)
		if len(reqs) == 0 && !woken && !pollDue && !stopped {
			m.running = false
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		for _, r := range reqs {
			f.lend()
			f.handle(r)
			f.reclaim()
		}
		if stopped {
			f.shutdown()
			f.hub.active.Add(-1)
			f.finish()
			return // running stays set: no goroutine is started again
		}
		if f.failed == nil && (woken || pollDue) {
			f.lend()
			// an event that came with the poll makes it no poll: what it
			// finds was told (see nextPoll)
			f.polling = pollDue && !woken
			f.check()
			f.polling = false
			f.reclaim()
		}
	}
}

// finish is the last thing f's last goroutine does.
func (f *follower) finish() {
	f.hub.forget(f)
	close(f.done)
	f.hub.wg.Done()
}

// closed reports whether c is closed.
func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// lend gives the follower a read buffer for one pass.
func (f *follower) lend() {
	f.bufp = readBufs.Get().(*[]byte)
	f.buf = *f.bufp
}

// reclaim takes the pass's read buffer back: nothing read is kept in it.
func (f *follower) reclaim() {
	readBufs.Put(f.bufp)
	f.buf, f.bufp = nil, nil
}

// start opens the file and positions the follower after its last complete
// line: what comes before is the subscribers' "last N lines".
func (f *follower) start() error {
	// The directory first: every file that comes under the name from now on
	// is counted.
	if nw, err := f.hub.watchName(f.name, f.wake); err != nil {
		level := slog.LevelWarn
		if errors.Is(err, errWatchLimit) || errors.Is(err, syscall.ENOSPC) {
			level = slog.LevelInfo // a limit (--max-watches, fs.inotify.max_user_watches), not a fault
		}
		f.log().Log(context.Background(), level, "no watch on the directory; rotations are seen by polling, and a file gone before it was read cannot be told", "path", f.name, "err", err)
	} else {
		f.names = nw
	}
	f.remote = remoteFS(dirOf(f.name))
	file, _, err := f.hub.cfg.Open(f.name)
	if err != nil {
		return err
	}
	st, err := statFile(file)
	if err != nil {
		file.Close()
		return fmt.Errorf("reading %s: %w", f.name, err)
	}
	// the colours of the lines before where we start carry into ours
	last, err := LastLines(file, st.size, primeLines, primeLineBytes)
	if err != nil {
		file.Close()
		return fmt.Errorf("reading %s: %w", f.name, err)
	}
	if f.html != nil {
		for line := range bytes.Lines(last.Raw) {
			f.html.Advance(line)
		}
	}
	src := newSource(file, st, f.name, f.hub.cfg.MaxLineBytes)
	if stop := f.stopOf(src); stop >= 0 {
		src.seek(stop)
	} else {
		// the last line is longer than a scan may read: go on from the
		// end, in the middle of it
		src.seek(st.size)
		src.sp.front = true
	}
	f.cur = src
	// the rotated files here now are older than anything it follows
	f.seen = map[fileID]int64{st.id: st.born}
	for _, sb := range siblings(f.name) {
		f.seen[sb.stat.id] = sb.stat.born
	}
	if f.names != nil {
		f.names.sync()
		f.createdBase = f.names.created.Load()
		f.createdSeen = f.createdBase
	}
	f.watch()
	f.check()
	return nil
}

// stopOf finds where the last complete line of src ends, reading back at
// most MaxLineBytes; -1 when it is further.
func (f *follower) stopOf(src *source) int64 {
	last, err := LastLines(src.file, src.stat.size, 0, f.hub.cfg.MaxLineBytes)
	if err != nil {
		return -1
	}
	return last.Stop
}

func (f *follower) shutdown() {
	if f.stallTimer != nil {
		f.stallTimer.Stop()
	}
	f.unwatch()
	if f.names != nil {
		f.names.Close()
	}
	f.poll.Stop()
	for _, src := range f.chain {
		src.close()
	}
	if f.cur != nil {
		f.cur.close()
	}
	for s := range f.subs {
		f.end(s, ErrClosed)
	}
	for s := range f.catching {
		f.end(s, ErrClosed)
	}
}

func (f *follower) handle(r request) {
	if r.sync {
		if f.failed == nil {
			f.check()
		}
		r.reply <- nil
		return
	}
	s := r.sub
	if r.leave {
		if _, ok := f.subs[s]; ok || f.catching[s] != nil {
			f.end(s, ErrClosed)
		}
		r.reply <- nil
		return
	}
	if f.failed != nil {
		r.reply <- f.failed
		return
	}
	if r.from != nil {
		r.reply <- f.resume(s, *r.from)
		return
	}
	// The last lines end where the follower has got to: the lines after
	// them are the ones it sends next.
	if src := f.frontier(); src != nil {
		limit := f.hub.cfg.MaxLineBytes
		buf := scanBuf(src.boundary)
		sp, err := lastSpan(src.file, src.boundary, r.lines, limit, buf)
		if errors.As(err, new(shrank)) {
			// cut since the follower read it: no last lines; the follower
			// sees the cut at its next read and says so
			b := src.boundary
			sp, err = span{end: b, start: b, stop: b, floor: b}, nil
		}
		if err != nil {
			r.reply <- fmt.Errorf("reading %s: %w", f.name, err)
			return
		}
		if sp.stop-sp.start > inlineLast {
			// Many or long lines: the subscriber catches up from their start
			// as a resume does, a queue at a time, instead of in one batch
			// as large as lines × MaxLineBytes.
			cs := src.dup(limit)
			if cs == nil {
				r.reply <- fmt.Errorf("reading %s: %w", f.name, syscall.EMFILE)
				return
			}
			cs.seek(sp.start)
			cs.sp.front = sp.front
			f.catchUp(s, &cursor{src: cs})
			r.reply <- nil
			return
		}
		last, err := gather(func(fn func(LastChunk) error) (Last, error) {
			return readSpan(src.file, sp, limit, 0, buf, fn)
		})
		if err != nil {
			r.reply <- fmt.Errorf("reading %s: %w", f.name, err)
			return
		}
		// sent even without lines: it tells the client where it stands
		b := NewBatch(last.Raw, s.html, f.hub.newRenderer())
		b.Sizes = last.Sizes
		b.End = src.position(src.boundary)
		src.keepHead(b, src.boundary-sp.start)
		s.charge(s.cost(b))
		s.c <- b // the queue is empty: this cannot block
		s.notify()
	}
	if s.html {
		f.htmlSubs++
	}
	f.subs[s] = struct{}{}
	r.reply <- nil
}

// inlineLast is the most bytes of last lines a new subscriber gets in one
// batch; more come through a cursor, bounded as a resume's catch-up is.
const inlineLast = 256 << 10

// frontier is the generation the follower is reading: the first one it has
// not read to its end, or the current file.
func (f *follower) frontier() *source {
	for _, src := range f.chain {
		if !src.atEOF {
			return src
		}
	}
	if f.cur != nil {
		return f.cur
	}
	if n := len(f.chain); n > 0 {
		return f.chain[n-1]
	}
	return nil
}

// end closes a subscriber's channel with the reason.
func (f *follower) end(s *Subscription, err error) {
	if _, live := f.subs[s]; live {
		delete(f.subs, s)
		if s.html {
			f.htmlSubs--
		}
	}
	if c := f.catching[s]; c != nil {
		c.close()
		delete(f.catching, s)
	}
	s.drop()
	s.err = err
	close(s.c)
	s.notify()
}

// check reads whatever is new, every generation in order, then looks whether
// the name now leads to another file.
func (f *follower) check() {
	was := f.mark()
	if f.hub.starved.Load() {
		f.dropStalled()
	}
	for range 4 { // a look or a cut that finds files may give more to read
		f.again = false
		ready := f.readChain()
		if ready && f.cur != nil {
			ready = f.read(f.cur)
		}
		if ready && len(f.pending) > 0 && f.cur == nil {
			for _, b := range f.pending {
				f.fanout(b, f.frontier()) // where the stream stands, if anywhere
			}
			f.pending = nil
		}
		if !f.look() && !f.again {
			break
		}
	}
	for s, c := range f.catching {
		f.advance(s, c)
	}
	f.schedule(f.mark() != was)
}

// progress is where a follower stands in the file under the name: a check
// that moves it found something that events tell (what it reads of the
// generations renamed away, which are not watched, does not count).
type progress struct {
	cur   *source
	off   int64
	turns int64
}

func (f *follower) mark() progress {
	p := progress{cur: f.cur, turns: f.turns}
	if f.cur != nil {
		p.off = f.cur.off
	}
	return p
}

// schedule sets when the follower next looks at its files unasked, after a
// check that moved it or not.
func (f *follower) schedule(moved bool) { f.poll.Reset(f.nextPoll(moved)) }

// nextPoll is how long until the next poll. The poll is a safety net, for
// events inotify missed and for files it does not watch: while the file and
// its directory are watched, a poll that finds nothing doubles the interval,
// up to maxBackoff × PollInterval, and any event brings it back to
// PollInterval. Renamed-away generations, which have no watch, are looked at
// every graceTick.
func (f *follower) nextPoll(moved bool) time.Duration {
	base := f.hub.cfg.PollInterval
	switch {
	case len(f.chain) > 0:
		f.pollEvery = base
		return min(graceTick, base)
	case !f.watched() || !f.polling:
		f.pollEvery = base
	case moved && !f.eventPending():
		f.missed = true
		f.pollEvery = base
		f.log().Info("a poll found changes no inotify event told; polling the file every PollInterval", "path", f.name, "every", base)
	case moved:
		f.pollEvery = base // its event is on the way
	default:
		f.pollEvery = min(2*f.pollEvery, maxBackoff*base)
	}
	return f.pollEvery
}

// watched reports whether events tell the follower of every change: its file
// (if any) and its directory have live watches, on a local file system.
func (f *follower) watched() bool {
	if f.missed || f.remote || f.names == nil || f.names.gone() {
		return false
	}
	return f.cur == nil || f.watcher != nil && !f.watcher.gone.Load()
}

// eventPending reports whether an event came for the follower that it has
// not handled yet, once the events queued in the kernel are dispatched.
func (f *follower) eventPending() bool {
	notify.sync()
	f.mb.mu.Lock()
	defer f.mb.mu.Unlock()
	return f.mb.woken
}

// readChain reads the renamed-away generations in order. It reports whether
// all were read to their end; it stops at one that could not be (every
// subscriber is full). One that is done and past its grace period is closed.
func (f *follower) readChain() bool {
	now := time.Now()
	for i := 0; i < len(f.chain); i++ {
		src := f.chain[i]
		if !f.read(src) {
			return false
		}
		newer := i+1 < len(f.chain) || f.cur != nil
		if newer && src.sp.pending() {
			// a newer file is being written: this line will not be finished
			f.send(src, src.finish())
		}
		if now.Before(src.until) {
			continue
		}
		if out := src.finish(); out.n > 0 {
			f.send(src, out)
		}
		f.remember(src)
		src.close()
		f.chain = append(f.chain[:i], f.chain[i+1:]...)
		i--
	}
	return true
}

// remember keeps a finished generation's first bytes, so that a copy of it
// is never taken for a new one (its identity is in seen).
func (f *follower) remember(src *source) {
	if len(f.heads) == maxKnown {
		f.heads = f.heads[1:]
	}
	f.heads = append(f.heads, src.firstBytes())
}

// read reads src from its offset to its end and sends the complete lines.
// It reports whether it reached the end: it stops early while every
// subscriber's queue is full, and reads on when one has caught up (wake).
func (f *follower) read(src *source) bool {
	if len(src.events) > 0 {
		f.flushBefore(src)
		for _, b := range src.events {
			f.fanout(b, src)
		}
		src.events = nil
	}
	buf := f.buf
	for {
		if f.saturated() {
			// look again when a subscriber that takes nothing counts as stalled
			if f.stallTimer == nil {
				f.stallTimer = time.AfterFunc(f.hub.cfg.StallAfter, f.wake)
			} else {
				f.stallTimer.Reset(f.hub.cfg.StallAfter)
			}
			if st, err := statFile(src.file); err == nil {
				src.seen = max(src.seen, st.size) // for a gap, should it be cut
			}
			src.atEOF = false
			return false
		}
		data, cut, full := src.next(buf)
		if cut {
			if f.cut(src) {
				return false // its copy comes first
			}
			continue
		}
		src.consume(data)
		if out := src.take(data); out.n > 0 {
			f.flushBefore(src)
			f.send(src, out)
		}
		if !full {
			src.atEOF = true
			return true
		}
	}
}

// flushBefore ends the unfinished lines of the generations before src: lines
// of a newer file are about to be sent.
func (f *follower) flushBefore(src *source) {
	for _, g := range f.chain {
		if g == src {
			return
		}
		if g.sp.pending() {
			f.send(g, g.finish())
		}
	}
}

// send fans out lines taken from src.
func (f *follower) send(src *source, out lines) {
	if out.n == 0 {
		return
	}
	b := NewBatch(out.raw, f.htmlSubs > 0, f.html)
	b.Sizes = out.sizes
	src.keepHead(b, out.bytes)
	f.fanout(b, src)
}

// cut handles a generation found cut or rewritten before its offset. With
// copytruncate, what it held is in a copy next to it: the lines not read yet
// are read from there first (cut reports that it queued the copy). What is
// lost, it says.
func (f *follower) cut(src *source) (copied bool) {
	f.turns++
	f.log().Info("file truncated", "path", src.name, "offset", src.off)
	unread := src.seen - src.off // known to have been there, not read
	cp := f.findCopy(src, 0, nil)
	if cp == nil {
		if out := src.finish(); out.n > 0 { // the line the cut ended
			f.send(src, out)
		}
		src.restart()
		f.fanout(&Batch{Event: wire.EventTruncated, File: src.name}, src)
		if unread > 0 {
			f.fanout(&Batch{Event: wire.EventGap, File: src.name, Bytes: unread,
				Reason: fmt.Sprintf("%s was truncated before %d bytes of it were read", filepath.Base(src.name), unread)}, src)
		}
		return false
	}
	f.log().Info("reading the rest of a truncated file from its copy", "path", src.name, "copy", cp.name, "from", cp.off)
	cp.stands(src)
	cp.events = []*Batch{{Event: wire.EventTruncated, File: src.name,
		Reason: fmt.Sprintf("%s was truncated; its lines not read yet come from its copy %s", filepath.Base(src.name), filepath.Base(cp.name))}}
	if short := src.seen - cp.stat.size; short > 0 {
		cp.events = append(cp.events, &Batch{Event: wire.EventGap, File: src.name, Bytes: short,
			Reason: fmt.Sprintf("%d bytes of %s were written after its copy and before its truncation", short, filepath.Base(src.name))})
	}
	src.restart()
	cp.atEOF = false
	cp.until = time.Now() // read it to its end, then close it
	i := len(f.chain)
	for k, g := range f.chain {
		if g == src {
			i = k
			break
		}
	}
	f.chain = append(f.chain[:i], append([]*source{cp}, f.chain[i:]...)...)
	f.seen[cp.stat.id] = cp.stat.born // never a generation of its own
	f.again = true
	return true
}

// findCopy looks among src's rotated siblings for a copy of it made just
// before it was cut (copytruncate): newer than src, at least as long as
// what was read of it, with the same first bytes (when known) and the same
// bytes before src's offset. It is returned open at the start of the line
// src was in. A follower, which saw the cut happen, takes the newest such
// copy; a cursor, which knows when it was there (since, a change time), the
// oldest made since.
func (f *follower) findCopy(src *source, since int64, pos *wire.Position) *source {
	sibs := siblings(f.name)
	sortGens(f.name, sibs)
	head := src.head
	if since != 0 {
		head = nil // the file's start now is not what it was then: pos says it
	}
	for k := range sibs {
		i := len(sibs) - 1 - k // the newest first
		if since != 0 {
			i = k
		}
		sb := sibs[i]
		if sb.packed || sb.stat.id == src.stat.id || sb.stat.size < src.off ||
			(sb.stat.born != 0 && src.stat.born != 0 && sb.stat.born < src.stat.born) ||
			(since != 0 && !copiedAfter(sb.stat, since)) {
			continue
		}
		file, _, err := f.hub.cfg.Open(sb.path)
		if err != nil {
			continue
		}
		cp := newSource(file, sb.stat, sb.path, f.hub.cfg.MaxLineBytes)
		win := make([]byte, src.wlen)
		n, _ := file.ReadAt(win, src.off-int64(src.wlen))
		if n == src.wlen && bytes.Equal(win, src.win[:src.wlen]) && (len(head) == 0 || sameHead(head, cp.firstBytes())) &&
			(pos == nil || sameContent(*pos, file)) {
			cp.seek(src.boundary)
			return cp
		}
		file.Close()
	}
	return nil
}

// look checks whether the name still leads to the current file. When it
// leads to another one, or to none, the current one joins the chain and the
// generations in between are found. It reports whether it found files.
func (f *follower) look() bool {
	st, err := statPath(f.name)
	same := err == nil && f.cur != nil && st.id == f.cur.stat.id
	counted := f.names != nil && f.names.created.Load() != f.createdSeen
	if same && !counted {
		if f.watcher == nil || f.watcher.gone.Load() {
			f.watch() // none could be had, or the kernel dropped it
		}
		return false
	}
	if err != nil && f.cur == nil && !counted {
		return false // still waiting for the name
	}
	if len(f.chain) >= maxChain {
		return false // once some are done
	}
	if f.names != nil {
		f.names.sync() // every file that came under the name before the scan is counted
	}
	if !same && f.cur != nil {
		if err != nil {
			f.log().Info("file gone; waiting for it", "path", f.name)
		} else {
			f.log().Info("file rotated", "path", f.name)
		}
		f.retire()
	}
	gens, under, created, complete := f.discover()
	f.turns += int64(len(gens))
	f.account(gens, under, created, complete)
	f.chain = append(f.chain, gens...)
	// the newest of them is the current file if it is under the name
	if n := len(f.chain); n > 0 && err == nil && f.cur == nil {
		if last := f.chain[n-1]; last.stat.id == st.id {
			f.chain = f.chain[:n-1]
			last.until = time.Time{}
			f.cur = last
			f.watch()
		}
	}
	gs := f.generations()
	for i := 1; i < len(gs); i++ {
		// born after it: not a copy of it (copytruncate), which comes first
		if p := gs[i-1]; p.left == 0 && gs[i].stat.born > p.stat.born {
			p.left = gs[i].stat.born
		}
	}
	return len(gens) > 0
}

// retire moves the current file to the chain, to be read to its end and
// for the grace period.
func (f *follower) retire() {
	f.unwatch()
	f.cur.until = time.Now().Add(f.hub.cfg.Grace)
	f.chain = append(f.chain, f.cur)
	f.cur = nil
}

// isKnown reports whether st (with head, when read) is a file the follower
// has or had, one that was here when it started, or a copy of one.
func (f *follower) isKnown(st fileStat, head []byte) bool {
	if born, ok := f.seen[st.id]; ok && (born == st.born || born == 0 || st.born == 0) {
		return true
	}
	if head == nil {
		return false
	}
	for _, src := range f.generations() {
		if sameHead(head, src.head) {
			return true
		}
	}
	return slices.ContainsFunc(f.heads, func(h []byte) bool { return sameHead(head, h) })
}

// forget drops the identities of files no longer in the directory (their
// inodes may go to new files), keeping seen as small as the directory.
func (f *follower) forget(sibs []sibling, under *fileStat) {
	here := make(map[fileID]bool, len(sibs)+1)
	for _, sb := range sibs {
		here[sb.stat.id] = true
	}
	if under != nil {
		here[under.id] = true
	}
	for _, g := range f.generations() {
		here[g.stat.id] = true
	}
	for id := range f.seen {
		if !here[id] {
			delete(f.seen, id)
		}
	}
}

// discover opens the generations that came under the name after the newest
// one the follower knows, oldest first; the file under the name now is the
// last. The others are looked for among the rotated names: newer than the
// newest known (by birth time; by modification time where there is none),
// neither one it knows nor a copy of one (copytruncate). A rotated file
// newer than the one under the name is a copy of it, made before it was cut:
// it comes before it.
func (f *follower) discover() (gens []*source, under *fileStat, created int64, complete bool) {
	sibs, under, steady, created := f.listing()
	if steady {
		f.forget(sibs, under)
	}
	complete = steady
	var cands []sibling
	for _, sb := range sibs {
		// an empty rotated file has nothing to read, and nothing to tell a
		// copy by (copytruncate of an empty file): left for a later look,
		// should it grow
		if sb.packed || sb.stat.size == 0 || f.isKnown(sb.stat, nil) {
			continue
		}
		if under != nil && sb.stat.id == under.id {
			continue
		}
		cands = append(cands, sb)
	}
	sortGens(f.name, cands)
	if under != nil && !f.isKnown(*under, nil) {
		cands = append(cands, sibling{path: f.name, stat: *under})
	}
	for _, c := range cands {
		file, st, err := f.openAs(c.path, c.stat.id)
		if err != nil {
			if err != errMoved {
				f.log().Warn("cannot open a generation of the file", "path", c.path, "err", err)
			}
			complete = false // moved on meanwhile; the next look sees where
			continue
		}
		src := newSource(file, st, c.path, f.hub.cfg.MaxLineBytes)
		if c.path != f.name && f.isKnown(st, src.firstBytes()) {
			f.log().Debug("a copy of a known generation", "path", c.path, "ino", st.id.ino)
			file.Close() // a copy of a file it has read
			continue
		}
		f.log().Debug("new generation", "path", c.path, "ino", st.id.ino, "born", st.born)
		src.until = time.Now().Add(f.hub.cfg.Grace)
		src.events = []*Batch{{Event: wire.EventRotated, File: c.path}}
		gens = append(gens, src)
		f.seen[st.id] = st.born
	}
	return gens, under, created, complete
}

// listing lists the rotated generations and the file under the name at one
// moment. A directory read while entries are renamed may miss one (readdir
// promises nothing then), and a rotation between the listing and the look
// at the name would hide the file it moved: so the directory is listed until
// no entry was created, moved or removed meanwhile (the directory watch
// counts them), or, without a watch, until two listings in a row agree.
func (f *follower) listing() (sibs []sibling, under *fileStat, steady bool, created int64) {
	list := func() ([]sibling, *fileStat) {
		sibs := siblings(f.name)
		if st, err := statPath(f.name); err == nil && st.regular {
			return sibs, &st
		}
		return sibs, nil
	}
	if f.names != nil && !f.names.lost.Load() {
		for attempt := range 16 {
			// a burst of renames is over in moments: let it end (at most
			// 120 ms in all, then take what there is)
			time.Sleep(time.Duration(attempt) * time.Millisecond)
			f.names.sync()
			before, created := f.names.changes(), f.names.created.Load()
			sibs, under = list()
			f.names.sync()
			if f.names.changes() == before {
				// every file that came under the name is in this listing
				return sibs, under, true, created
			}
		}
		return sibs, under, false, 0
	}
	sibs, under = list()
	for range 8 {
		again, under2 := list()
		if sameListing(sibs, again) && (under == nil) == (under2 == nil) && (under == nil || under.id == under2.id) {
			return sibs, under, true, 0
		}
		sibs, under = again, under2
	}
	return sibs, under, false, 0
}

func sameListing(a, b []sibling) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a { // both in the directory's order
		if a[i].path != b[i].path || a[i].stat.id != b[i].stat.id {
			return false
		}
	}
	return true
}

// account compares the files that came under the name (the directory
// watch's count) with those the follower found: the missing ones were gone
// (deleted, compressed) before it could read them, which it says before the
// lines of the ones it found. Only after a look that opened every file it
// listed: one that moved on meanwhile is found by the next.
func (f *follower) account(gens []*source, under *fileStat, created int64, complete bool) {
	if f.names == nil || f.names.lost.Load() {
		return
	}
	for _, g := range gens {
		// a file newer than the one under the name is a copy of it
		// (copytruncate): it never was under the name
		if under == nil || g.stat.born == 0 || under.born == 0 || g.stat.born <= under.born {
			f.found++
		}
	}
	if !complete {
		return // the next look compares
	}
	f.createdSeen = max(f.createdSeen, created)
	missing := created - f.createdBase - f.found - f.lost
	if missing <= 0 {
		return
	}
	f.lost += missing
	f.log().Warn("files under the name were gone before they could be read", "path", f.name, "files", missing)
	gap := &Batch{Event: wire.EventGap, File: f.name, Reason: fmt.Sprintf(
		"%d file(s) that came under the name %s were removed or compressed before they could be read", missing, filepath.Base(f.name))}
	switch {
	case len(gens) > 0:
		gens[0].events = append([]*Batch{gap}, gens[0].events...)
	case f.cur != nil:
		f.cur.events = append(f.cur.events, gap)
	default:
		f.pending = append(f.pending, gap) // sent once every file is read
	}
}

// NewBatch wraps raw complete lines (each ending in newline) with their text
// and, when html is set, HTML forms, rendered by r, which carries its state
// through the lines even when html is not set (r may be nil: no HTML).
func NewBatch(raw []byte, html bool, r Renderer) *Batch {
	b := &Batch{Raw: raw, Lines: bytes.Count(raw, []byte{'\n'}), Text: raw, Read: time.Now()}
	if !utf8.Valid(raw) {
		b.Text = wire.AppendValidUTF8(make([]byte, 0, len(raw)+16), raw)
	}
	switch {
	case r == nil:
	case html:
		out := make([]byte, 0, len(raw)+len(raw)/4)
		for line := range bytes.Lines(raw) {
			out = r.AppendHTML(out, line[:len(line)-1])
			out = append(out, '\n')
		}
		b.HTML = out
	case bytes.IndexByte(raw, 0x1b) >= 0: // keep the colour state for later HTML subscribers
		for line := range bytes.Lines(raw) {
			r.Advance(line)
		}
	}
	return b
}

// fanout sends b to every live subscriber, its position being where src
// stands (the boundary after its lines, or its start for an event).
func (f *follower) fanout(b *Batch, src *source) {
	if src != nil {
		b.End = f.positionOf(src, src.boundary)
	}
	if b.Event != "" && f.hub.cfg.OnEvent != nil {
		f.hub.cfg.OnEvent(b.Event)
	}
	now := time.Now().UnixNano()
	for s := range f.subs {
		if !s.offer(b, now) {
			f.log().Info("subscriber too slow; dropping it", "path", f.name,
				"queued_bytes", s.queued.Load(), "idle", time.Since(time.Unix(0, s.lastTaken.Load())).Round(time.Millisecond))
			f.end(s, ErrSlow)
		}
	}
}

// positionOf is src's position at off, a boundary. While the follower
// knows no file that came under the name after src (src.left), the name is
// looked at after src's change time is taken: if another file, born after
// it, is there already (the follower has not seen it yet; src may be the
// current file, or one renamed away with nothing under the name when the
// follower looked), the position is as of that file's birth, so that a
// resume after src is gone takes that file for a later one, whenever src
// was last written.
func (f *follower) positionOf(src *source, off int64) wire.Position {
	p := src.position(off)
	if src.as != nil || src.left != 0 {
		return p
	}
	if under, err := statPath(f.name); err == nil && under.id != src.stat.id && under.born > src.stat.born {
		p.Asof = min(p.Asof, under.born)
	}
	return p
}

// errMoved: the path no longer leads to the file that was looked for.
var errMoved = errors.New("another file under the path")

// openAs opens path and checks that it is still the file id: names move
// between a listing and an open.
func (f *follower) openAs(path string, id fileID) (*os.File, fileStat, error) {
	file, _, err := f.hub.cfg.Open(path)
	if err != nil {
		return nil, fileStat{}, err
	}
	st, err := statFile(file)
	if err == nil && st.id != id {
		err = errMoved
	}
	if err != nil {
		file.Close()
		return nil, fileStat{}, err
	}
	return file, st, nil
}
