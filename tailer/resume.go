package tailer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/logtail/logtail/wire"
)

// cursor is a subscriber catching up from a resume position. It reads its
// own descriptors (so that the follower's rotations cannot pull a file from
// under it), at the pace its queue allows, through the same generations the
// follower reads, in order, until it reaches the follower; then the
// subscriber joins the fan-out.
type cursor struct {
	src   *source        // the generation it reads; nil: the next one is to be found
	queue []*source      // after src: the rest of a truncated file's copies, then the file again
	last  sibling        // the generation it finished last, or the position's file when gone
	asof  int64          // the position's Asof: copies older than it hold lines the client had
	read  []fileStat     // the files it has read: never next again
	gone  *wire.Position // the position, when its file was gone: a copy of it may hold the rest
	pos   *wire.Position // the position it resumed from, while in that file
	html  Renderer       // its own: colours carry from line to line in file order
}

func (c *cursor) close() {
	for _, src := range append(c.queue, c.src) {
		if src != nil {
			src.close()
		}
	}
	c.src, c.queue = nil, nil
}

// resume starts s right after pos. The position's file may be the current
// one, one the follower still reads, or one in the same directory found by
// its identity (app.log.1 after logrotate, even when the daemon restarted in
// between). If it is none of these, the lines after pos are lost: s is told
// with a gap event and goes on with the generations that came after it.
func (f *follower) resume(s *Subscription, pos wire.Position) error {
	c := &cursor{asof: pos.Asof}
	if pos.Tagged {
		c.pos = &pos
	}
	src, why := f.openAt(pos)
	if why == outOfFiles {
		// not a loss: the client is refused for now (503) and tries again
		return fmt.Errorf("resuming %s: %w", f.name, syscall.EMFILE)
	}
	if src != nil {
		src.expect(pos.Offset)
		c.src = src
		f.copiedSince(s, c, pos)
	} else {
		f.sendTo(s, &Batch{Event: wire.EventGap, End: pos, Reason: why})
		if f.hub.cfg.OnEvent != nil {
			f.hub.cfg.OnEvent(wire.EventGap)
		}
		c.last = sibling{stat: fileStat{id: fileID{pos.Dev, pos.Ino}, born: pos.Born}}
		c.gone = &pos
	}
	f.catchUp(s, c)
	return nil
}

// catchUp has c feed s until it reaches the follower (join).
func (f *follower) catchUp(s *Subscription, c *cursor) {
	f.catching[s] = c
	s.catching.Store(true)
	f.advance(s, c)
}

// catchUpStalls is how many StallAfter a subscriber holding catch-up room
// may take nothing before dropStalled drops it: as long as a write to a
// client that reads nothing may take.
const catchUpStalls = 10

// outOfFiles is openAt's reason when the process has no descriptor left.
const outOfFiles = "out of file descriptors"

// openAt opens the file pos names, or says why it cannot.
func (f *follower) openAt(pos wire.Position) (*source, string) {
	id := fileID{pos.Dev, pos.Ino}
	reused := fmt.Sprintf("the file at %s is gone (its inode now holds another file); the lines written to it after that position are lost", pos)
	for _, g := range f.generations() {
		if g.stat.id != id {
			continue
		}
		if !sameFile(pos, g.file, g.stat) {
			return nil, reused
		}
		if src := g.dup(f.hub.cfg.MaxLineBytes); src != nil {
			return src, ""
		}
		return nil, outOfFiles
	}
	gone := fmt.Sprintf("the file at %s is gone; the lines written to it after that position are lost", pos)
	for _, dir := range searchDirs(f.name) {
		p, ok := findInode(dir, pos)
		if !ok {
			continue
		}
		file, fs, err := f.openAs(p, id)
		if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
			return nil, outOfFiles
		}
		if err != nil {
			return nil, gone
		}
		if !sameFile(pos, file, fs) {
			file.Close()
			return nil, reused
		}
		return newSource(file, fs, p, f.hub.cfg.MaxLineBytes), ""
	}
	return nil, gone
}

// searchDirs are where a file that left the name may be: the name's
// directory (rotated names), and, when the name is a symbolic link, its
// target's (the targets it pointed to before).
func searchDirs(name string) []string {
	dirs := []string{filepath.Dir(name)}
	if real, err := filepath.EvalSymlinks(name); err == nil {
		if d := filepath.Dir(real); d != dirs[0] {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// findInode looks in dir for the regular file pos names.
func findInode(dir string, pos wire.Position) (string, bool) {
	d, err := os.Open(dir)
	if err != nil {
		return "", false
	}
	defer d.Close()
	names, _ := d.Readdirnames(maxSiblings)
	for _, n := range names {
		p := filepath.Join(dir, n)
		var st syscall.Stat_t
		if syscall.Lstat(p, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Ino == pos.Ino && uint64(st.Dev) == pos.Dev {
			return p, true
		}
	}
	return "", false
}

// copiedSince looks for what copytruncate took from the position's file
// while the client was away: a truncation leaves no trace at an offset the
// file has grown back past (or at its start), but the file then starts
// otherwise than the position says, and its copies made since then start
// otherwise than it does now. The copy that starts as the position says
// holds the client's lines after it and is read from there; then the later
// copies and the file from its start.
func (f *follower) copiedSince(s *Subscription, c *cursor, pos wire.Position) {
	x := c.src
	if !pos.Tagged {
		return
	}
	now, err := statFile(x.file)
	if err != nil {
		return
	}
	cut := now.size < pos.Offset || !sameContent(pos, x.file)
	if !cut && pos.Offset > 0 {
		return // it still holds the client's lines
	}
	// Once x has left the name, files born before its last change may be
	// copies of it or (a clock tick apart) files that came after it: only
	// the copy whose start the position names can be told.
	under, err := statPath(f.name)
	rotated := err != nil || under.id != x.stat.id
	var cps []*source
	switch {
	case !cut && rotated && now.mtime > pos.Asof:
		// At its start the position holds nothing of x to know its copies
		// by, but a copy made of x since (copytruncate while the client was
		// away; x was changed since) was rotated before x was: it has an
		// older rotated name, which no file that came after x under the
		// name can have. x empty, though changed since, was cut: whether
		// lines were lost, a copy tells, or nothing does (it may have been
		// compressed already) and the client is told so.
		cps = f.copiesOf(x, now, pos.Asof, true)
		cut = now.size == 0
	case !cut && rotated:
		return
	default:
		cps = f.copiesOf(x, now, pos.Asof, false)
	}
	head := readHead(x.file)
	var queue []*source
	first := -1
	for i, cp := range cps {
		switch {
		case cut && first < 0 && cp.stat.size >= pos.Offset && sameContent(pos, cp.file):
			first = i // the copy of the client's lines
			cp.expect(pos.Offset)
		case cut && first < 0:
			cp.close() // a copy of the file as it was before the client's lines
			continue
		case cut && rotated:
			cp.close() // after the client's copy: a later copy, or a later file
			continue
		case !cut && len(queue) == 0 && sameHead(cp.firstBytes(), head):
			cp.close() // a copy of the file as it still is (logrotate's copy): nothing cut
			continue
		}
		queue = append(queue, cp)
	}
	if !cut && len(queue) == 0 {
		return
	}
	var ev *Batch
	switch {
	case len(queue) == 0: // whether lines were written after pos before the cut, nothing says
		ev = &Batch{Event: wire.EventTruncated, File: x.name, Reason: fmt.Sprintf(
			"%s was truncated after %s; lines written after that before the cut, if any, are in no copy", filepath.Base(x.name), pos)}
	default:
		ev = &Batch{Event: wire.EventTruncated, File: x.name, Reason: fmt.Sprintf(
			"%s was truncated after %s; the lines after it come from its copy %s", filepath.Base(x.name), pos, filepath.Base(queue[0].name))}
	}
	f.log().Info("resuming from the copies of a file truncated since", "path", x.name, "copies", len(queue), "position", pos.String())
	x.restart()
	queue = append(queue, x)
	c.src, c.queue, c.pos = queue[0], queue[1:], nil
	ev.End = c.src.position(c.src.boundary)
	f.sendTo(s, ev)
	if f.hub.cfg.OnEvent != nil && ev.Event == wire.EventGap {
		f.hub.cfg.OnEvent(wire.EventGap)
	}
}

// copiesOf opens the copies made of x since asof, oldest first. Copies are
// made of the file under the name: while x was, so no later than its last
// modification (the truncation that follows a copy moves it; renames, which
// numbered rotation does to every rotated file, do not). Files born later
// came after it under the name. With olderNamed, x has left the name: only
// files whose rotated names are older than x's are taken.
func (f *follower) copiesOf(x *source, now fileStat, asof int64, olderNamed bool) []*source {
	under, _ := statPath(f.name)
	all := siblings(f.name)
	xName := ""
	if olderNamed {
		for _, sb := range all {
			if sb.stat.id == x.stat.id {
				xName = filepath.Base(sb.path)
			}
		}
		if xName == "" {
			return nil // x is no rotated generation: nothing to compare with
		}
	}
	base := filepath.Base(f.name)
	var sibs []sibling
	for _, sb := range all {
		if !sb.packed && sb.stat.id != x.stat.id && sb.stat.id != under.id && sb.stat.size > 0 &&
			copiedAfter(sb.stat, asof) && (sb.stat.born == 0 || sb.stat.born > x.stat.born) && // not an older file of the same clock tick
			(sb.stat.born == 0 || sb.stat.born <= now.mtime) &&
			(!olderNamed || olderName(base, filepath.Base(sb.path), xName) < 0) {
			sibs = append(sibs, sb)
		}
	}
	sortGens(f.name, sibs)
	var cps []*source
	for _, sb := range sibs {
		file, st, err := f.openAs(sb.path, sb.stat.id)
		if err != nil {
			continue
		}
		cps = append(cps, newSource(file, st, sb.path, f.hub.cfg.MaxLineBytes))
	}
	return cps
}

// copiedAfter reports whether a file was created after asof, a change time.
func copiedAfter(st fileStat, asof int64) bool {
	if st.born != 0 {
		return st.born >= asof
	}
	return st.mtime >= asof
}

// generations are the files the follower reads, oldest first.
func (f *follower) generations() []*source {
	gens := f.chain[:len(f.chain):len(f.chain)]
	if f.cur != nil {
		gens = append(gens, f.cur)
	}
	return gens
}

// generation is the follower's own source for the file id, if it reads it.
func (f *follower) generation(id fileID) *source {
	for _, g := range f.generations() {
		if g.stat.id == id {
			return g
		}
	}
	return nil
}

// dup is a source of its own on the same file, at its start.
func (src *source) dup(limit int) *source {
	file := dup(src.file)
	if file == nil {
		return nil
	}
	d := newSource(file, src.stat, src.name, limit)
	d.head, d.left = src.head, src.left
	return d
}

// advance feeds a catching-up subscriber while its queue has room.
func (f *follower) advance(s *Subscription, c *cursor) {
	buf := f.buf
	for f.catching[s] == c && !s.catchUpFull() { // a send may end s
		if !f.hub.catchUpRoom() && f.hub.waitRoom() {
			// a release anywhere wakes us; so does the stall timer, to
			// drop the subscribers that hold room and take nothing
			if f.stallTimer == nil {
				f.stallTimer = time.AfterFunc(f.hub.cfg.StallAfter, f.wake)
			} else {
				f.stallTimer.Reset(f.hub.cfg.StallAfter)
			}
			return
		}
		if c.src == nil {
			if len(c.queue) > 0 {
				c.src, c.queue = c.queue[0], c.queue[1:]
			} else if next, err := f.nextAfter(c); err != nil {
				f.log().Debug("a resuming client waits for a descriptor to read the next generation", "path", f.name, "err", err)
				return // the next look (--poll-interval) tries again
			} else if c.src = next; c.src == nil {
				// nothing newer than what it read: what comes, comes live
				f.join(s, c)
				return
			} else {
				if p := c.gone; p != nil && p.Tagged && c.src.stat.size >= p.Offset && sameContent(*p, c.src.file) {
					// a copy of the gone file, made since: the rest of the
					// client's lines, at the positions of the gone file
					c.src.expect(p.Offset)
					c.src.standsAt(*p)
				}
				c.gone = nil
				f.sendTo(s, &Batch{Event: wire.EventRotated, File: c.src.name, End: c.src.position(c.src.boundary)})
			}
		}
		src := c.src
		g := f.generation(src.stat.id)
		want := int64(readBlock)
		if g != nil {
			src.left = g.left
			if src.off == g.boundary && src.sp.pending() {
				// the follower ended this line there (a newer file came)
				c.take(f, s, src.finish())
			}
			// Never read past what the follower has sent: the rest is its to
			// send. Inside a line it has shown cut, that is all it has read.
			upTo := g.boundary
			if g.sp.cutting {
				upTo = g.off
			}
			if g == f.frontier() && src.off == upTo && src.boundary == g.boundary &&
				src.sp.cutting == g.sp.cutting && !src.sp.pending() {
				f.join(s, c)
				return
			}
			want = min(want, max(upTo-src.off, 0))
		}
		data, cut, _ := src.next(buf[:src.wlen+int(want)])
		if cut {
			f.cutCursor(s, c)
			continue
		}
		if len(data) == 0 {
			switch {
			case g == nil:
				// the end of a file no longer under the name: done with it
				c.take(f, s, src.finish())
			case src.off < g.boundary || g == f.frontier():
				return // the follower reads on and wakes us
			case src.sp.cutting:
				src.finish() // the follower went past the line it cut
			}
			c.last = sibling{path: src.name, stat: src.stat}
			c.read = append(c.read, src.stat)
			c.pos = nil // it names that file only
			if st, err := statFile(src.file); err == nil {
				c.last.stat = st // its last modification orders ties
			}
			src.close()
			c.src = nil
			continue
		}
		src.consume(data)
		c.take(f, s, src.take(data))
	}
}

// dropStalled ends, while resuming clients wait for catch-up room, the
// subscribers that hold some and have taken nothing for catchUpStalls ×
// StallAfter (a client that stopped reading; a busy one may pause for a
// second): ErrSlow, they resume later. Without it, a few such clients would
// hold every other resume up for as long as they stay.
func (f *follower) dropStalled() {
	now := time.Now().UnixNano()
	stall := catchUpStalls * int64(f.hub.cfg.StallAfter)
	for s := range f.subs { // joined, with catch-up batches still queued
		if s.held.Load() > 0 && now-s.lastTaken.Load() >= stall {
			f.end(s, ErrSlow)
		}
	}
	for s := range f.catching {
		if s.held.Load() > 0 && now-s.lastTaken.Load() >= stall {
			f.end(s, ErrSlow)
		}
	}
}

// take queues lines read by the cursor from its source.
func (c *cursor) take(f *follower, s *Subscription, out lines) {
	if out.n == 0 {
		return
	}
	if c.html == nil {
		c.html = f.hub.newRenderer()
	}
	b := NewBatch(out.raw, s.html, c.html)
	b.catchUp = true
	b.Sizes = out.sizes
	b.End = f.positionOf(c.src, c.src.boundary)
	c.src.keepHead(b, out.bytes)
	f.sendTo(s, b)
}

// cutCursor handles the cursor's file found cut: its copy, if there is one,
// holds what the cursor has not read yet.
func (f *follower) cutCursor(s *Subscription, c *cursor) {
	src := c.src
	if cp := f.findCopy(src, c.asof, c.pos); cp != nil {
		cp.stands(src)
		f.sendTo(s, &Batch{Event: wire.EventTruncated, File: src.name, End: cp.position(cp.boundary),
			Reason: fmt.Sprintf("%s was truncated; its lines not read yet come from its copy %s", filepath.Base(src.name), filepath.Base(cp.name))})
		src.restart()
		c.src, c.queue, c.pos = cp, append([]*source{src}, c.queue...), nil
		return
	}
	src.restart()
	f.sendTo(s, &Batch{Event: wire.EventTruncated, File: src.name, End: src.position(0)})
}

// nextAfter opens the generation that came after the one the cursor
// finished: the next one the follower reads if it was one of them, else the
// oldest file among the rotated names newer than it, or the follower's
// oldest.
func (f *follower) nextAfter(c *cursor) (*source, error) {
	lastGen := c.last
	last := lastGen.stat
	gens := f.generations()
	for i, g := range gens {
		if g.stat.id == last.id && (last.born == 0 || g.stat.born == last.born) {
			if i+1 < len(gens) {
				return dupOrWait(gens[i+1], f.hub.cfg.MaxLineBytes)
			}
			return nil, nil
		}
	}
	if last.born == 0 && last.mtime == 0 {
		if len(gens) > 0 { // nothing to order by: the follower's oldest
			return dupOrWait(gens[0], f.hub.cfg.MaxLineBytes)
		}
		return nil, nil
	}
	base := filepath.Base(f.name)
	after := func(sb sibling) bool {
		st := sb.stat
		for _, r := range append(c.read, last) {
			if st.id == r.id && (st.born == 0 || r.born == 0 || st.born == r.born) {
				return false // read already (a new file may have its inode)
			}
		}
		if sb.path == f.name {
			// another file under the name came there after last left it,
			// whenever it was made (a symlink's new target, a file renamed
			// over the old one, made before the client's position); copies
			// go to other names
			return true
		}
		if lastGen.path == "" {
			// gone: all there is to go by is its birth, and when the client
			// was there (copies made before hold lines it had). A file born
			// in its clock tick (a burst of rotations) may be older or newer,
			// and its times, as coarse, cannot tell (the loss checker's seeds
			// 40011 and 40023: a file removed rather than rotated leaves its
			// older siblings of that tick): it is taken for an older one.
			return last.born != 0 && st.born > last.born && st.born >= c.asof
		}
		// Born later but last modified before last was: a copy of it made
		// when it was truncated (copytruncate), holding its earlier lines.
		return olderGen(base, lastGen, sb) < 0 && st.mtime >= last.mtime
	}
	var cands []sibling
	for _, sb := range siblings(f.name) {
		if !sb.packed && after(sb) {
			cands = append(cands, sb)
		}
	}
	sortGens(f.name, cands)
	var under *sibling
	if st, err := statPath(f.name); err == nil && st.regular && after(sibling{path: f.name, stat: st}) {
		under = &sibling{path: f.name, stat: st}
		for i, c := range cands {
			if c.stat.id == st.id {
				cands = append(cands[:i], cands[i+1:]...)
				break
			}
		}
		cands = append(cands, *under)
	}
	for _, c := range cands {
		if g := f.generation(c.stat.id); g != nil {
			return dupOrWait(g, f.hub.cfg.MaxLineBytes)
		}
		file, st, err := f.openAs(c.path, c.stat.id)
		if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
			return nil, errNoDescriptor // not skipped: tried again at the next look
		}
		if err != nil {
			continue
		}
		return newSource(file, st, c.path, f.hub.cfg.MaxLineBytes), nil
	}
	// Nothing newer: last was newer than the file under the name, so a copy
	// of it (copytruncate), which goes on with it from its start.
	if f.cur != nil && f.cur.stat.id != last.id && (f.cur.stat.born == 0 || f.cur.stat.born < last.born) {
		return dupOrWait(f.cur, f.hub.cfg.MaxLineBytes)
	}
	return nil, nil
}

// errNoDescriptor: a generation could not be opened for want of descriptors;
// the cursor waits for the next look rather than skip it.
var errNoDescriptor = errors.New("no descriptor left to open the next generation")

// dupOrWait is src.dup, or errNoDescriptor when it fails.
func dupOrWait(src *source, limit int) (*source, error) {
	if d := src.dup(limit); d != nil {
		return d, nil
	}
	return nil, errNoDescriptor
}

// join moves a subscriber that has caught up into the fan-out.
func (f *follower) join(s *Subscription, c *cursor) {
	c.close()
	delete(f.catching, s)
	s.catching.Store(false)
	f.subs[s] = struct{}{}
	if s.html {
		f.htmlSubs++
	}
}

// sendTo queues b for one subscriber, ending it if it is too slow. Once it
// has ended (a send before this one found it too slow), it does nothing.
func (f *follower) sendTo(s *Subscription, b *Batch) {
	if s.queued.Load() < 0 {
		return // ended: its channel is closed
	}
	if !s.offer(b, time.Now().UnixNano()) {
		f.end(s, ErrSlow)
	}
}

// dup opens a second descriptor on an open file.
func dup(file *os.File) *os.File {
	sc, err := file.SyscallConn()
	if err != nil {
		return nil
	}
	var fd int
	var derr error
	sc.Control(func(raw uintptr) { fd, derr = syscall.Dup(int(raw)) })
	if derr != nil {
		return nil
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), file.Name())
}
