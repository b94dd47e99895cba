// The last lines of a file, without following: read a frame at a time from
// the end, sent, then closed with 1000.

package server

import (
	"context"
	"net/http"
	"os"

	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// last sends the last lines and closes with 1000. They are read and sent a
// frame at a time: what a request holds is bounded by a frame and a line,
// not by lines × --max-line-bytes.
func (d *Daemon) last(w http.ResponseWriter, r *http.Request, name string, q wire.Query) {
	flt, err := d.filters.get(q.Grep, q.Exclude)
	if err != nil {
		d.refuseStream(w, r, http.StatusBadRequest, err.Error())
		return
	}
	f, fi, _, err := d.box.Open(name)
	if err != nil {
		d.refuseErr(w, r, err)
		return
	}
	defer f.Close()
	size, n := fi.Size(), q.Lines
	// json tells of an unfinished last line, so that the CLI prints exactly
	// what tail prints: it counts as one of the N lines, as in tail.
	withPartial := q.Format == "json" && n > 0 && size > 0 && !endsLine(f, size)
	if withPartial && flt == nil { // with a filter, only if it passes (lastMatching)
		n--
	}
	c, err := wsconn.Upgrade(w, r, wsconn.Config{}, nil)
	if err != nil {
		d.handshakeFailed(r, err)
		return
	}
	defer context.AfterFunc(d.kill, c.Abort)()
	st := d.opened(r, name, q)
	s := newSender(c, q, st)
	s.filter(flt, nil, nil)
	defer s.release()
	colours := new(render.Stream) // carried from one chunk to the next
	var sendErr error             // the client's connection failed, not the file
	send := func(b *tailer.Batch) error {
		if err := s.put(b); err != nil {
			sendErr = err
			return err
		}
		return nil
	}
	if flt != nil && n > 0 {
		// the scan reads at most --max-scan-bytes from the end
		if err = d.lastMatching(f, size, n, withPartial, s, send, colours, q.WantHTML()); err == nil {
			if err = s.flush(); err != nil {
				sendErr = err
			}
		}
		d.lastDone(c, st, name, err, sendErr)
		return
	}
	// The scan reads at most (lines+1) × --max-line-bytes from the end,
	// whatever the file holds.
	if err = d.lastPlain(f, size, n, withPartial, s, send, colours, q.WantHTML()); err == nil {
		if err = s.flush(); err != nil {
			sendErr = err
		}
	}
	d.lastDone(c, st, name, err, sendErr)
}

// lastPlain sends the last n lines of the first size bytes of f, a chunk
// at a time, then where they end; with the file's unfinished last line as
// s's partial when withPartial (the caller counted it as one of the n).
// WebSocket and plain-HTTP streams without a filter (lastMatching with one).
func (d *Daemon) lastPlain(f *os.File, size int64, n int, withPartial bool, s *sender, send func(*tailer.Batch) error, colours tailer.Renderer, html bool) error {
	last, err := tailer.LastLinesEach(f, size, n, d.cfg.MaxLineBytes, frameTarget, func(ch tailer.LastChunk) error {
		b := tailer.NewBatch(ch.Raw, html, colours)
		b.Sizes = ch.Sizes
		var err error
		if b.End, err = tailer.PositionAt(f, ch.End); err != nil {
			return err
		}
		return send(b)
	})
	if err != nil {
		return err
	}
	stop := last.Stop
	if stop < 0 {
		stop = size // no line end within reach
	}
	b := tailer.NewBatch(nil, false, colours) // where the lines end, also when there are none
	if b.End, err = tailer.PositionAt(f, stop); err != nil {
		return err
	}
	if withPartial && len(last.Partial) > 0 {
		s.partial = wire.AppendValidUTF8(nil, last.Partial)
	}
	return send(b)
}

// lastDone closes a stream of last lines: 1000, or 1011 when the file
// could not be read (err), or at once when the client's connection failed
// (sendErr).
func (d *Daemon) lastDone(c *wsconn.Conn, st *streamStats, name string, err, sendErr error) {
	d.reportSent(st)
	switch {
	case sendErr != nil:
		c.Abort()
		d.closed(st, 0, err)
	case err != nil: // the file, not the client: say so
		d.log.Warn("reading the last lines failed", "path", name, "err", err)
		c.Close(wsconn.CodeInternal, "reading the file failed")
		d.closed(st, wsconn.CodeInternal, err)
	default:
		c.Close(wsconn.CodeNormal, "")
		d.closed(st, wsconn.CodeNormal, nil)
	}
}

// endsLine reports whether the first size bytes of f end with a newline.
func endsLine(f *os.File, size int64) bool {
	var b [1]byte
	_, err := f.ReadAt(b[:], size-1)
	return err == nil && b[0] == '\n'
}
