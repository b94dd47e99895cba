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
	lc, ok := d.upgradeLines(w, r, name, q, flt)
	if !ok {
		return
	}
	// json tells of an unfinished last line, so that the CLI prints exactly
	// what tail prints
	err = d.sendLast(f, fi.Size(), q.Lines, q.Format == wire.FormatJSON, flt, lc.s, lc.send, new(render.Stream), q.WantHTML())
	lc.done(name, err)
}

// sendLast sends the last n lines of the first size bytes of f through s:
// the last n that pass flt when there is one (lastMatching: the scan reads
// at most --max-scan-bytes from the end), else lastPlain (at most (n+1) ×
// --max-line-bytes, whatever the file holds). With partial, an unfinished
// last line counts as one of the n, as in tail.
func (d *Daemon) sendLast(f *os.File, size int64, n int, partial bool, flt *lineFilter, s *sender, send func(*tailer.Batch) error, colours tailer.Renderer, html bool) error {
	withPartial := partial && n > 0 && size > 0 && !endsLine(f, size)
	if flt != nil && n > 0 { // with a filter, the partial line only if it passes
		return d.lastMatching(f, size, n, withPartial, s, send, colours, html)
	}
	if withPartial {
		n--
	}
	return d.lastPlain(f, size, n, withPartial, s, send, colours, html)
}

// linesConn is a WebSocket answer of lines that is not followed (the last
// lines, a page, the last lines of many files): its sender, and a send that
// tells the client's failure (its connection) from the file's.
type linesConn struct {
	d       *Daemon
	c       *wsconn.Conn
	st      *streamStats
	s       *sender
	sendErr error
	stop    func() bool // the drop at the end of --shutdown-timeout
}

// upgradeLines answers the handshake of a stream of lines that ends; false
// when it failed (said in the log).
func (d *Daemon) upgradeLines(w http.ResponseWriter, r *http.Request, name string, q wire.Query, flt *lineFilter) (*linesConn, bool) {
	c, err := wsconn.Upgrade(w, r, wsconn.Config{}, nil)
	if err != nil {
		d.handshakeFailed(r, err)
		return nil, false
	}
	lc := &linesConn{d: d, c: c, st: d.opened(r, name, q), stop: context.AfterFunc(d.kill, c.Abort)}
	lc.s = newSender(c, q, lc.st)
	lc.s.filter(flt, nil, nil)
	return lc, true
}

// send puts b into frames, remembering a failure as the client's.
func (lc *linesConn) send(b *tailer.Batch) error {
	if err := lc.s.put(b); err != nil {
		lc.sendErr = err
		return err
	}
	return nil
}

// done flushes what is left and closes: 1000, or 1011 when the file could
// not be read (err), or at once when the client's connection failed.
func (lc *linesConn) done(name string, err error) {
	if err == nil && lc.sendErr == nil {
		lc.sendErr = lc.s.flush()
	}
	lc.s.release()
	lc.stop()
	lc.d.lastDone(lc.c, lc.st, name, err, lc.sendErr)
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
