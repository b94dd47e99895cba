package tailer

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/logtail/logtail/render"
)

// maxSiblings bounds the directory scan that looks for a rotated-away file.
const maxSiblings = 10000

// cursor is a subscriber catching up from a resume position. It reads its
// own descriptor (so rotation of the follower's files cannot pull it from
// under it) at the pace its queue allows, until it reaches the live
// follower; then the subscriber joins the fan-out.
type cursor struct {
	src  source // src.file nil: continue at the start of the current file
	html render.Stream
}

func (c *cursor) close() {
	if c.src.file != nil {
		c.src.file.Close()
		c.src.file = nil
	}
}

// resume starts s right after pos. The position's file may be the current
// one, the renamed-away one still in grace, or a sibling in the same
// directory found by its identity (app.log.1 after logrotate, even when the
// daemon restarted in between); if it is none of these, the lines after pos
// are lost: s is told with a gap event and continues at the start of the
// current file.
func (f *follower) resume(s *Subscription, pos Position) {
	id := fileID{pos.Dev, pos.Ino}
	c := &cursor{}
	var file *os.File
	switch {
	case f.cur != nil && f.cur.id == id:
		file = dup(f.cur.file)
	case f.old != nil && f.old.id == id:
		file = dup(f.old.file)
	default:
		file = f.findByID(id)
	}
	if file != nil {
		// the byte before pos must be the newline we stopped after; if not,
		// the file was cut or rewritten and advance starts it again
		c.src = source{file: file, id: id, off: pos.Offset, last: '\n'}
	} else {
		f.send(s, &Batch{Event: EventGap, End: pos,
			Reason: fmt.Sprintf("the file at %s is gone; continuing at the start of the current file", pos)})
	}
	f.catching[s] = c
	f.advance(s, c)
}

// advance feeds a catching-up subscriber while its queue has room.
func (f *follower) advance(s *Subscription, c *cursor) {
	buf := f.buf
	for !s.half(s.queued.Load()) {
		if c.src.file == nil { // on to the current file, from its start
			if f.cur == nil {
				return // the name does not exist now: wait for it
			}
			c.src = source{file: dup(f.cur.file), id: f.cur.id}
			if c.src.file == nil {
				f.end(s, fmt.Errorf("tailer: cannot resume %s: out of descriptors", f.name))
				return
			}
			f.send(s, &Batch{Event: EventRotated, End: c.src.pos()})
		}
		live := f.cur != nil && c.src.id == f.cur.id
		var boundary int64 // where the follower's sent lines end
		if live {
			boundary = f.cur.off - int64(len(f.cur.partial))
			if c.src.off == boundary && len(c.src.partial) == 0 {
				f.join(s, c)
				return
			}
		}
		want := int64(len(buf))
		if live { // never read past what the follower has sent: the rest is its to send
			before := int64(0) // next reads the byte before off too
			if c.src.off > 0 {
				before = 1
			}
			want = min(want, max(boundary-c.src.off, 0)+before)
		}
		data, cut, _ := c.src.next(buf[:want])
		if cut {
			c.src.restart()
			f.send(s, &Batch{Event: EventTruncated, End: c.src.pos()})
			continue
		}
		if live && c.src.off >= boundary {
			return // ahead of the follower (it restarted behind us): wait for it
		}
		if len(data) == 0 {
			if live {
				return // the follower will read on and wake us
			}
			// the end of a file that is no longer under the name
			if len(c.src.partial) > 0 {
				b := NewBatch(append(c.src.partial, '\n'), s.html, &c.html)
				b.End = c.src.pos()
				f.send(s, b)
			}
			c.close()
			continue
		}
		c.src.consume(data)
		if out := f.split(&c.src, data); len(out) > 0 {
			b := NewBatch(out, s.html, &c.html)
			b.End = c.src.pos()
			f.send(s, b)
		}
	}
}

// join moves a subscriber that has caught up into the fan-out.
func (f *follower) join(s *Subscription, c *cursor) {
	c.close()
	delete(f.catching, s)
	f.subs[s] = struct{}{}
	if s.html {
		f.htmlSubs++
	}
}

// send queues b for one subscriber, ending it if it is too slow.
func (f *follower) send(s *Subscription, b *Batch) {
	if !s.offer(b, time.Now().UnixNano()) {
		f.end(s, ErrSlow)
	}
}

// findByID looks in the followed name's directory for the file with the
// given identity, e.g. the log renamed by logrotate, opened through Open so
// the sandbox still decides.
func (f *follower) findByID(id fileID) *os.File {
	dir := filepath.Dir(f.name)
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	entries, _ := d.ReadDir(maxSiblings)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || idOf(info) != id {
			continue
		}
		file, fi, err := f.hub.cfg.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil
		}
		if idOf(fi) != id {
			file.Close()
			return nil
		}
		return file
	}
	return nil
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
