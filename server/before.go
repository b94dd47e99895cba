// Paging back: before=POS&lines=N, the N lines that end at POS.

package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/wire"
)

// pageTarget is how large a page's json message grows before it is cut:
// what a stream may hold already (a frame and a line of the default
// --max-line-bytes), so that a page is one message unless it is larger.
const pageTarget = 1 << 20

// before answers before=POS&lines=N (see wire's "Paging back") in any
// form: in json, the lines with their sizes, the page's start and pos (or
// the lines alone in text and html), then the end of the stream. The file
// is found, and the page's start in it, before the answer starts, so that
// a gone file or a position that is not a line boundary is refused (404,
// 400). The lines are then read and sent a chunk at a time, as the last
// lines are: what the answer holds is a message of at most about
// pageTarget (a page larger than that is several, each with the page's
// start), not the page.
func (d *Daemon) before(w http.ResponseWriter, r *http.Request, name string, q wire.Query, form httpForm) {
	switch form {
	case formDownload: // download=1 comes first (formOf): the whole file
		d.download(w, r, name)
		return
	case formSSE:
		if strings.TrimSpace(r.Header.Get("Last-Event-ID")) != "" {
			// an EventSource reconnecting once the page ended: no more,
			// and no more reconnects
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	flt, err := d.filters.get(q.Grep, q.Exclude)
	if err != nil {
		d.refuseStream(w, r, http.StatusBadRequest, err.Error())
		return
	}
	f, pg, err := d.findPage(name, *q.Before, q.Lines, flt)
	if err != nil {
		d.refusePage(w, r, form, err)
		return
	}
	defer f.Close()
	if form == formWebSocket {
		d.pageOverWebSocket(w, r, name, q, flt, f, pg)
	} else {
		d.pageOverHTTP(w, r, name, q, form, flt, f, pg)
	}
}

// findPage opens the file pos names (the one under name, or a rotated
// generation) and finds where the page's lines lie in it.
func (d *Daemon) findPage(name string, pos wire.Position, n int, flt *lineFilter) (*os.File, tailer.Page, error) {
	f, err := d.hub.OpenPosition(name, pos)
	if err != nil {
		return nil, tailer.Page{}, err
	}
	var keep func([]byte) bool
	if flt != nil {
		keep = flt.keep
	}
	pg, err := tailer.FindPage(f, pos, n, d.cfg.MaxLineBytes, d.cfg.MaxScanBytes, keep)
	if err != nil {
		f.Close()
		return nil, tailer.Page{}, fmt.Errorf("reading %s before %s: %w", name, pos, err)
	}
	return f, pg, nil
}

// refusePage refuses a page that cannot be given: 404 when the position's
// file is gone, 400 when the position is not a line boundary of it.
func (d *Daemon) refusePage(w http.ResponseWriter, r *http.Request, form httpForm, err error) {
	var pe *tailer.PositionError
	switch {
	case errors.As(err, &pe) && pe.Gone:
		d.refuseStream(w, r, http.StatusNotFound, pe.Reason)
	case errors.As(err, &pe):
		d.refuseStream(w, r, http.StatusBadRequest, pe.Reason)
	case form == formWebSocket:
		d.refuseErr(w, r, err)
	default:
		d.refuseFormErr(w, r, err)
	}
}

// pageOverWebSocket sends the page and closes with 1000 (1011 when the
// file could not be read), as the last lines are sent (lastDone).
func (d *Daemon) pageOverWebSocket(w http.ResponseWriter, r *http.Request, name string, q wire.Query, flt *lineFilter, f *os.File, pg tailer.Page) {
	lc, ok := d.upgradeLines(w, r, name, q, flt)
	if !ok {
		return
	}
	lc.done(name, d.sendPage(f, pg, q.Lines, lc.s, lc.send, new(render.Stream), q.WantHTML()))
}

// pageOverHTTP sends the page as text, ndjson or Server-Sent Events
// (httpStream, gzipped when asked), then ends the response as the last
// lines' does.
func (d *Daemon) pageOverHTTP(w http.ResponseWriter, r *http.Request, name string, q wire.Query, form httpForm, flt *lineFilter, f *os.File, pg tailer.Page) {
	h := d.newHTTPStream(w, r, q, form, flt)
	defer context.AfterFunc(d.kill, h.drop)()
	if err := h.begin(r, name, q); err != nil {
		h.end(0, err)
		return
	}
	err := d.sendPage(f, pg, q.Lines, h.s, h.send, h.colours(), h.html)
	h.endLines("reading the lines before a position failed", name, err, h.sendErr)
}

// sendPage sends pg's lines of f through s, a chunk at a time: in json, a
// scan-limit event first when the search stopped at --max-scan-bytes, and
// the page's start on each message, whose sizes count from it (with a
// filter, the first line's also counts the lines left out before it). The
// last message's pos is right after its last line: POS, or, with a filter,
// before the lines it left out after the last that passes, as in every
// filtered message; a page without lines is one message at POS.
func (d *Daemon) sendPage(f *os.File, pg tailer.Page, n int, s *sender, send func(*tailer.Batch) error, colours tailer.Renderer, html bool) error {
	start := pg.At(pg.Start)
	if pg.Limited {
		ev := d.scanLimit(tailer.Scan{Found: pg.Found, Bytes: pg.Bytes}, n, &start)
		ev.Reason = fmt.Sprintf("found %d of the %d matching lines asked for in the %d bytes before the position (--max-scan-bytes %d); older lines were not searched",
			pg.Found, n, pg.Bytes, d.cfg.MaxScanBytes)
		if err := send(ev); err != nil {
			return err
		}
	}
	if s.format == wire.FormatJSON {
		s.start = &start
	}
	if s.flt != nil {
		s.pos, s.flt.read = start, pg.At(pg.First)
	}
	lines := 0 // sent
	err := tailer.PageEach(f, pg, d.cfg.MaxLineBytes, frameTarget, html, colours, func(b *tailer.Batch) error {
		if s.flt != nil {
			lines += b.Filter(s.flt.f.tf).Lines // (made once: put takes the same)
		} else {
			lines += b.Lines
		}
		return send(b)
	})
	if err != nil || lines > 0 {
		return err
	}
	return send(&tailer.Batch{End: pg.At(pg.End)})
}
