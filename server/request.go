// A file request: its query, its origin, admission under the limits, then
// the last lines or a followed stream.

package server

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/logtail/logtail/web"
	"github.com/logtail/logtail/wire"
)

func (d *Daemon) handleFile(w http.ResponseWriter, r *http.Request) {
	// every answer names the daemon: a stream's (the 101 too), a refusal's
	w.Header().Set(wire.HeaderName, d.cfg.Name)
	// a WebSocket, the viewer page, or a plain-HTTP form (httpstream.go)
	form := formOf(w.Header(), r)
	if form == formPage { // a browser: the viewer page, after the same checks as a stream
		name, err := d.box.Name(r.URL.EscapedPath())
		if err != nil {
			d.refuseErr(w, r, err)
			return
		}
		if d.isMany(name) {
			if _, err := d.matches(name, nil); err != nil {
				d.refuseMany(w, r, err)
				return
			}
		} else if _, err := d.checkFile(name); err != nil {
			d.refuseErr(w, r, err)
			return
		}
		// the page's stream will ask with this query (its grep=, say): a
		// bad one is said now, not by a page that cannot connect
		if _, err := wire.ParseQuery(r.URL.RawQuery, d.cfg.MaxLines); err != nil {
			d.page(w, r, func(w http.ResponseWriter) { web.Refuse(w, http.StatusBadRequest, err.Error()) })
			return
		}
		d.page(w, r, func(w http.ResponseWriter) { d.web.Viewer(w, r, name) })
		return
	}
	if !form.allows(r.Method) {
		d.refuseStream(w, r, http.StatusMethodNotAllowed, "streams are opened with GET")
		return
	}
	if !d.originAllowed(r) {
		d.refuseStream(w, r, http.StatusForbidden, "origin not allowed: start logtaild with --allow-origin "+r.Header.Get("Origin"))
		return
	}
	q, err := wire.ParseQuery(r.URL.RawQuery, d.cfg.MaxLines)
	if err != nil {
		d.refuseStream(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if q.Capped { // the client may say it got fewer than it asked for
		w.Header().Set(wire.HeaderMaxLines, strconv.Itoa(q.Lines))
	}
	name, err := d.box.Name(r.URL.EscapedPath())
	if err != nil {
		d.refuseErr(w, r, err)
		return
	}
	if d.quit.Err() != nil {
		w.Header().Set("Retry-After", "1")
		d.refuseStream(w, r, http.StatusServiceUnavailable, "daemon shutting down")
		return
	}
	// Admit before the upgrade; the slot is freed when the stream ends.
	if n := d.streams.Add(1); n > int64(d.cfg.MaxStreams) || d.fds.crowded(int(n-1), d.hub.Followers()) {
		d.streams.Add(-1)
		w.Header().Set("Retry-After", "1")
		reason := fmt.Sprintf("too many streams (--max-streams %d); try again later", d.cfg.MaxStreams)
		if n <= int64(d.cfg.MaxStreams) {
			reason = fmt.Sprintf("too many streams for the open-file limit (%d); try again later", d.fds.limit)
		}
		d.refuseStream(w, r, http.StatusServiceUnavailable, reason)
		return
	}
	d.wg.Add(1)
	done := func() { // when the stream has ended, wherever it ran
		d.streams.Add(-1)
		d.wg.Done()
	}
	if d.isMany(name) { // a directory or a pattern (set.go)
		defer func() {
			if form != formWebSocket || !q.Tail {
				done()
			}
		}()
		switch {
		case form != formWebSocket:
			d.refuseStream(w, r, http.StatusBadRequest, "a stream of many files is served over WebSocket only")
		case q.Before != nil || q.Download:
			d.refuseStream(w, r, http.StatusBadRequest, "before= and download= name one file")
		case q.Tail:
			d.followMany(w, r, name, q, done)
		default:
			d.lastMany(w, r, name, q)
		}
		return
	}
	if q.Before != nil { // paging back (before.go): the lines, then the end
		defer done()
		d.before(w, r, name, q, form)
		return
	}
	if form != formWebSocket { // SSE, text, ndjson, download: on this goroutine
		defer done()
		d.serveHTTPForm(w, r, name, q, form)
		return
	}
	if q.Tail {
		d.follow(w, r, name, q, done)
	} else {
		defer done()
		d.last(w, r, name, q)
	}
}
