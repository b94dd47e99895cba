package tailer

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nxadm/tail/util"
	"gopkg.in/tomb.v1"

	"github.com/logtail/logtail/render"
)

// readBlock is how much a follower reads from its file at once.
const readBlock = 64 << 10

// graceTick is how often a renamed-away file is looked at during the grace
// period: it has no inotify watch of its own any more.
const graceTick = 100 * time.Millisecond

// primeLines is how many lines before its start a follower reads to learn
// the colour state it starts in.
const primeLines = 100

var libraryLogger sync.Once

// setLibraryLogger sends nxadm/tail's own log (it only logs before a fatal
// error) to our logger instead of stderr.
func setLibraryLogger(l *slog.Logger) {
	libraryLogger.Do(func() {
		util.LOGGER = &util.Logger{Logger: slog.NewLogLogger(l.Handler(), slog.LevelError)}
	})
}

// source is one open generation of the followed file.
type source struct {
	file    *os.File
	id      fileID
	off     int64  // next byte to read
	partial []byte // bytes after the last newline, waiting for it
	cutting bool   // dropping the rest of an over-long line
	last    byte   // the byte at off-1, to notice the file was cut or rewritten
	fresh   bool   // a new file under the name, not yet announced
}

// next reads what follows src.off into buf, together with the byte before
// it, which must still be the one we read there: one pread sees the file at
// one moment, so a file cut and written again past our offset (copytruncate)
// cannot pass for one that grew. cut reports that it was cut or rewritten;
// full, that buf was filled (there may be more).
func (src *source) next(buf []byte) (data []byte, cut, full bool) {
	if src.off == 0 {
		n, _ := src.file.ReadAt(buf, 0)
		return buf[:n], false, n == len(buf)
	}
	n, _ := src.file.ReadAt(buf, src.off-1)
	if n == 0 || buf[0] != src.last {
		return nil, true, false
	}
	return buf[1:n], false, n == len(buf)
}

// consume records that data, returned by next, was read.
func (src *source) consume(data []byte) {
	if len(data) > 0 {
		src.off += int64(len(data))
		src.last = data[len(data)-1]
	}
}

// restart reads the file again from its start.
func (src *source) restart() {
	src.off, src.partial, src.cutting, src.last = 0, src.partial[:0], false, 0
}

// pos is the position after the last complete line read from src.
func (src *source) pos() Position {
	return Position{Dev: src.id.dev, Ino: src.id.ino, Offset: src.off - int64(len(src.partial))}
}

// follower reads one file by name and fans its lines out. All fields below
// the first group belong to its goroutine.
type follower struct {
	hub   *Hub
	name  string
	after <-chan struct{} // the previous follower of this name is gone
	reqs  chan request
	stop  chan struct{}
	done  chan struct{}

	refs     int  // guarded by hub.mu
	stopping bool // guarded by hub.mu

	cur      *source // nil while the name does not exist
	old      *source // renamed away, still read until oldUntil
	oldUntil time.Time
	failed   error // an open or read error every new subscriber is told

	watcher  *fileWatch    // see watch.go
	appeared chan struct{} // closed when the name may exist again
	waitTomb *tomb.Tomb    // ends the wait for the name
	waiters  sync.WaitGroup

	caughtUp   chan struct{} // a subscriber's queue drained below half (see saturated)
	full       atomic.Int64  // subscribers (live or catching up) whose queue is half full
	buf        []byte        // one read block, reused
	stallTimer *time.Timer   // wakes the follower to look for stalled subscribers
	subs       map[*Subscription]struct{}
	catching   map[*Subscription]*cursor // resuming subscribers not yet live
	html       render.Stream
	htmlSubs   int
	ticker     *time.Ticker
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

// wake tells the follower a subscriber's queue drained below half, or a
// stall timer ran out. Safe from any goroutine.
func (f *follower) wake() {
	select {
	case f.caughtUp <- struct{}{}:
	default:
	}
}

func newFollower(h *Hub, name string, after <-chan struct{}) *follower {
	return &follower{
		caughtUp: make(chan struct{}, 1),
		hub:      h,
		name:     name,
		after:    after,
		reqs:     make(chan request),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		subs:     make(map[*Subscription]struct{}),
		catching: make(map[*Subscription]*cursor),
		buf:      make([]byte, readBlock+1),
	}
}

func (f *follower) log() *slog.Logger { return f.hub.cfg.Logger }

func (f *follower) run() {
	defer f.hub.wg.Done()
	defer close(f.done)
	defer f.hub.forget(f)
	if f.after != nil {
		select {
		case <-f.after:
		case <-f.stop:
			return
		}
	}
	f.hub.active.Add(1)
	defer f.hub.active.Add(-1)
	defer f.shutdown()

	f.ticker = time.NewTicker(f.hub.cfg.PollInterval)
	if err := f.start(); err != nil {
		f.failed = err // told to every subscriber until the last one leaves
		for {
			select {
			case r := <-f.reqs:
				f.handle(r)
			case <-f.stop:
				return
			}
		}
	}
	for {
		var changed, watchEnded <-chan struct{}
		if f.watcher != nil {
			changed, watchEnded = f.watcher.changed, f.watcher.done
		}
		select {
		case r := <-f.reqs:
			f.handle(r)
		case <-changed:
			f.check()
		case <-watchEnded:
			f.watcher = nil // its watch was removed under it: check watches again
			f.check()
		case <-f.appeared:
			f.appeared, f.waitTomb = nil, nil
			f.check()
		case <-f.ticker.C:
			f.check()
		case <-f.caughtUp:
			f.check()
		case <-f.stop:
			return
		}
	}
}

// start opens the file and positions the follower after its last complete
// line: what comes before is the subscribers' "last N lines".
func (f *follower) start() error {
	file, fi, err := f.hub.cfg.Open(f.name)
	if err != nil {
		return err
	}
	// the colours of the lines before where we start carry into ours
	before, _, stop, err := LastLines(file, fi.Size(), primeLines)
	if err != nil {
		file.Close()
		return fmt.Errorf("reading %s: %w", f.name, err)
	}
	for line := range bytes.Lines(before) {
		f.html.Advance(line)
	}
	f.cur = &source{file: file, id: idOf(fi), off: stop, last: '\n'}
	f.watch()
	f.check()
	return nil
}

func (f *follower) shutdown() {
	if f.stallTimer != nil {
		f.stallTimer.Stop()
	}
	f.unwatch()
	f.waiters.Wait()
	f.ticker.Stop()
	for _, src := range []*source{f.old, f.cur} {
		if src != nil {
			src.file.Close()
		}
	}
	for s := range f.subs {
		f.end(s, ErrClosed)
	}
	for s := range f.catching {
		f.end(s, ErrClosed)
	}
}

func (f *follower) handle(r request) {
	s := r.sub
	if r.leave {
		if _, ok := f.subs[s]; ok || f.catching[s] != nil {
			f.end(s, ErrClosed)
		}
		return
	}
	if f.failed != nil {
		r.reply <- f.failed
		return
	}
	if r.from != nil {
		f.resume(s, *r.from)
		r.reply <- nil
		return
	}
	if f.cur != nil {
		end := f.cur.off - int64(len(f.cur.partial))
		raw, _, _, err := LastLines(f.cur.file, end, r.lines)
		if err != nil {
			r.reply <- fmt.Errorf("reading %s: %w", f.name, err)
			return
		}
		raw = CutLongLines(raw, f.hub.cfg.MaxLineBytes)
		// sent even without lines: it tells the client where it stands
		b := NewBatch(raw, s.html, new(render.Stream))
		b.End = Position{Dev: f.cur.id.dev, Ino: f.cur.id.ino, Offset: end}
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

// check reads whatever is new: the rest of a renamed-away file first, then the
// current file, then looks whether the name now leads to another file.
func (f *follower) check() {
	// Lines go out in the order they were written: the renamed-away file is
	// read to its end before anything of the new one.
	oldDone := true
	if f.old != nil {
		oldDone = f.read(f.old)
		if oldDone && time.Now().After(f.oldUntil) {
			f.flushPartial(f.old)
			f.old.file.Close()
			f.old = nil
			f.ticker.Reset(f.hub.cfg.PollInterval)
		}
	}
	if f.cur != nil && oldDone {
		f.readCur()
	}
	fi, err := os.Stat(f.name)
	switch {
	case err != nil:
		if f.cur != nil {
			f.log().Info("file gone; waiting for it", "path", f.name)
			f.retire()
		}
		f.waitForName()
	case f.cur == nil || idOf(fi) != f.cur.id:
		if f.cur != nil {
			f.log().Info("file rotated", "path", f.name)
			f.retire()
		}
		f.reopen()
	case f.watcher == nil:
		f.watch()
	}
	for s, c := range f.catching {
		f.advance(s, c)
	}
}

// readCur reads the current file, first telling the subscribers that it is
// a new one when it is.
func (f *follower) readCur() {
	if f.cur.fresh {
		f.cur.fresh = false
		f.fanout(&Batch{Event: EventRotated}, f.cur)
	}
	f.read(f.cur)
}

// retire keeps the current file as the old one for the grace period. It is
// read once more first: whatever was written to it before the name moved on
// (the stat that told us) comes before the new file's lines.
func (f *follower) retire() {
	f.unwatch()
	if f.old != nil { // rotated twice within the grace period
		f.read(f.old)
		f.flushPartial(f.old)
		f.old.file.Close()
	}
	f.read(f.cur)
	f.old, f.cur = f.cur, nil
	f.oldUntil = time.Now().Add(f.hub.cfg.Grace)
	f.ticker.Reset(min(graceTick, f.hub.cfg.PollInterval))
}

// reopen opens the new file under the name and reads it from its start once
// the old one is done.
func (f *follower) reopen() {
	file, fi, err := f.hub.cfg.Open(f.name)
	if err != nil {
		f.log().Warn("cannot open the file under its name; will retry", "path", f.name, "err", err)
		return
	}
	f.cur = &source{file: file, id: idOf(fi), fresh: true}
	f.watch()
	if f.old == nil || f.read(f.old) {
		f.readCur()
	}
}

// read reads src from its offset to its end and sends the complete lines.
// It reports whether it reached the end: it stops early while every
// subscriber's queue is full, and reads on when one has caught up (wake).
func (f *follower) read(src *source) bool {
	buf := f.buf
	for {
		if f.saturated() {
			// look again when a subscriber that takes nothing counts as stalled
			if f.stallTimer == nil {
				f.stallTimer = time.AfterFunc(f.hub.cfg.StallAfter, f.wake)
			} else {
				f.stallTimer.Reset(f.hub.cfg.StallAfter)
			}
			return false
		}
		data, cut, full := src.next(buf)
		if cut {
			f.log().Info("file truncated", "path", f.name, "offset", src.off)
			src.restart()
			f.fanout(&Batch{Event: EventTruncated}, src)
			continue
		}
		src.consume(data)
		if out := f.split(src, data); len(out) > 0 {
			f.fanout(NewBatch(out, f.htmlSubs > 0, &f.html), src)
		}
		if !full {
			return true
		}
	}
}

// split returns the complete lines of chunk, keeping an unfinished one in src
// for later and cutting lines longer than MaxLineBytes (see splitLines).
func (f *follower) split(src *source, chunk []byte) []byte {
	var out []byte
	out, src.partial, src.cutting = splitLines(src.partial, src.cutting, chunk, f.hub.cfg.MaxLineBytes)
	return out
}

// cutMark ends a line cut at MaxLineBytes.
const cutMark = " [line cut]\n"

func appendCut(out, line []byte) []byte {
	// do not split a UTF-8 sequence at the cut
	for k := 1; k <= utf8.UTFMax && k <= len(line); k++ {
		if utf8.RuneStart(line[len(line)-k]) {
			if !utf8.FullRune(line[len(line)-k:]) {
				line = line[:len(line)-k]
			}
			break
		}
	}
	return append(append(out, line...), cutMark...)
}

// flushPartial sends the unfinished last line of a file that will not grow
// any more.
func (f *follower) flushPartial(src *source) {
	if len(src.partial) == 0 {
		return
	}
	line := append(src.partial, '\n')
	src.partial = nil
	f.fanout(NewBatch(line, f.htmlSubs > 0, &f.html), src)
}

// NewBatch wraps raw complete lines (each ending in newline) with their text
// and, when html is set, HTML forms, rendered with stream.
func NewBatch(raw []byte, html bool, stream *render.Stream) *Batch {
	b := &Batch{Raw: raw, Lines: bytes.Count(raw, []byte{'\n'}), Text: raw}
	if !utf8.Valid(raw) {
		b.Text = render.AppendText(make([]byte, 0, len(raw)+16), raw)
	}
	switch {
	case html:
		out := make([]byte, 0, len(raw)+len(raw)/4)
		for line := range bytes.Lines(raw) {
			out = stream.AppendHTML(out, line[:len(line)-1])
			out = append(out, '\n')
		}
		b.HTML = out
	case bytes.IndexByte(raw, 0x1b) >= 0: // keep the colour state for later HTML subscribers
		for line := range bytes.Lines(raw) {
			stream.Advance(line)
		}
	}
	return b
}

func (f *follower) fanout(b *Batch, src *source) {
	b.End = src.pos()
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
