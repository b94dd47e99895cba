// The plain-HTTP forms of a file's URL (no WebSocket): Server-Sent Events,
// chunked text, newline-delimited json, and the download (download.go).
// handleFile gives them the checks and the admission of a WebSocket stream;
// each runs on its handler's goroutine, from a bounded subscription.

package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// httpForm is what a request of a file's URL asks for (formOf).
type httpForm int

const (
	formWebSocket httpForm = iota // a WebSocket stream (stream.go, lastlines.go)
	formPage                      // the viewer page
	formDownload                  // download=1: the file as an attachment (download.go)
	formSSE                       // Accept: text/event-stream: json messages as Server-Sent Events
	formText                      // format=text, or an Accept preferring text/plain: the lines
	formNDJSON                    // format=json, or an Accept preferring application/x-ndjson: a json message a line
)

var formNames = [...]string{"websocket", "page", "download", "sse", "text", "ndjson"}

func (f httpForm) String() string { return formNames[f] }

// allows reports whether a request of form f may be made with method:
// streams are opened with GET; a download also answers HEAD.
func (f httpForm) allows(method string) bool {
	return method == http.MethodGet || f == formDownload && method == http.MethodHead
}

// formOf says what a request of a file's URL asks for. Over plain HTTP, by
// priority: download=1 (not 0) a download; an Accept that lists
// text/event-stream an event stream (what EventSource sends); format=text
// the text, format=json ndjson, another format the page; without format=, an
// Accept that prefers text/plain (or application/x-ndjson) to text/html,
// naming it (curl's */* does not), the text (ndjson); anything else, a
// browser's request among them, the viewer page. As the answer depends on
// Accept, h gets Vary: Accept. A query that cannot be read is refused by
// wire.ParseQuery on the stream path (the page ignores its query).
func formOf(h http.Header, r *http.Request) httpForm {
	if isWebSocket(r) {
		return formWebSocket
	}
	h.Add("Vary", "Accept")
	values, _ := url.ParseQuery(r.URL.RawQuery)
	if v, ok := values["download"]; ok && v[0] != "0" && v[0] != "false" {
		return formDownload
	}
	accept := r.Header.Values("Accept")
	if acceptQ(accept, "text/event-stream", true) > 0 {
		return formSSE
	}
	switch values.Get("format") {
	case wire.FormatText:
		return formText
	case wire.FormatJSON:
		return formNDJSON
	case "":
	default:
		return formPage
	}
	page := acceptQ(accept, "text/html", false)
	switch {
	case acceptQ(accept, "text/plain", true) > page:
		return formText
	case acceptQ(accept, "application/x-ndjson", true) > page:
		return formNDJSON
	}
	return formPage
}

// acceptQ is the quality an Accept header (its values) gives a media type:
// only when it names it (exact), or else the most specific range that
// covers it (type/subtype, type/*, */*). 0 when none does.
func acceptQ(accept []string, mediaType string, exact bool) float64 {
	major, _, _ := strings.Cut(mediaType, "/")
	best, rank := 0.0, 0 // rank: 3 the type itself, 2 type/*, 1 */*
	for _, header := range accept {
		for _, part := range strings.Split(header, ",") {
			params := strings.Split(part, ";")
			mt := strings.ToLower(strings.TrimSpace(params[0]))
			r := 0
			switch {
			case mt == mediaType:
				r = 3
			case exact:
			case mt == major+"/*":
				r = 2
			case mt == "*/*":
				r = 1
			}
			if r == 0 || r < rank {
				continue
			}
			q := 1.0
			for _, p := range params[1:] {
				k, v, _ := strings.Cut(p, "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					var err error
					if q, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || q < 0 || q > 1 {
						q = 0
					}
				}
			}
			if r > rank || q > best {
				best, rank = q, r
			}
		}
	}
	return best
}

// serveHTTPForm serves an admitted plain-HTTP request of a file: the
// download, or the last lines and, with tail=1, every new line, as text,
// ndjson or Server-Sent Events, gzipped for a client that accepts it. A
// refusal (status and reason) comes before any byte of the body; once the
// body has started, the stream can only end.
func (d *Daemon) serveHTTPForm(w http.ResponseWriter, r *http.Request, name string, q wire.Query, form httpForm) {
	if form == formDownload {
		d.download(w, r, name)
		return
	}
	flt, err := d.filters.get(q.Grep, q.Exclude)
	if err != nil {
		d.refuseStream(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if form == formSSE {
		// EventSource sends the last id it saw when it reconnects: the
		// position after the last message it dispatched, from= of the stream
		// it resumes (it overrides the from= of the URL, which is older).
		if id := strings.TrimSpace(r.Header.Get("Last-Event-ID")); id != "" {
			if !q.Tail { // the last lines were sent: no more, and no more reconnects
				w.WriteHeader(http.StatusNoContent)
				return
			}
			pos, err := wire.ParsePosition(id)
			if err != nil {
				d.refuseStream(w, r, http.StatusBadRequest, "Last-Event-ID: "+err.Error())
				return
			}
			q.From = &pos
		}
	}
	h := d.newHTTPStream(w, r, q, form, flt)
	if q.Tail {
		h.follow(r, name, q)
	} else {
		h.last(r, name, q)
	}
}

// newHTTPStream is the stream of a plain-HTTP request in form, gzipped
// when the client accepts it.
func (d *Daemon) newHTTPStream(w http.ResponseWriter, r *http.Request, q wire.Query, form httpForm, flt *lineFilter) *httpStream {
	h := &httpStream{d: d, w: w, rc: http.NewResponseController(w), form: form,
		html: form != formText && q.HTML, flt: flt}
	w.Header().Add("Vary", "Accept-Encoding")
	if acceptQ(r.Header.Values("Accept-Encoding"), "gzip", true) > 0 {
		h.gz = new(gzipStream)
	}
	return h
}

// httpStream writes one plain-HTTP stream: the lines as text (formText),
// or json messages, one a line (formNDJSON) or as Server-Sent Events
// (formSSE). The WebSocket's sender makes its frames (the same lines,
// messages and filter) and hands each to frame, which writes it in the
// stream's form. It is used by its handler's goroutine only.
type httpStream struct {
	d    *Daemon
	w    http.ResponseWriter
	rc   *http.ResponseController
	form httpForm
	html bool        // json lines in their HTML form (html=1)
	flt  *lineFilter // grep=, exclude=; nil: every line
	st   *streamStats
	s    *sender
	gz   *gzipStream // Accept-Encoding: gzip; nil: plain

	sendErr  error         // a response of lines that ends: the client's connection failed (send)
	deadline time.Time     // the connection's write deadline (raw)
	dirty    bool          // written since the last flush
	wrote    bool          // written since the last keep-alive tick
	wake     chan struct{} // kick: a filtered stream's position is due
}

// The content types of the forms.
var formTypes = map[httpForm]string{
	formSSE:    "text/event-stream",
	formText:   "text/plain; charset=utf-8",
	formNDJSON: "application/x-ndjson",
}

// begin sends the response's headers at once (a followed stream with no
// lines yet is still a stream that started): no-cache, nosniff, and
// X-Accel-Buffering: no, so that nginx passes each flush on at once. It
// makes the stream's sender.
func (h *httpStream) begin(r *http.Request, name string, q wire.Query) error {
	logged := q
	logged.Format = h.form.String()
	h.st = h.d.opened(r, name, logged)
	format := wire.FormatJSON
	if h.form == formText {
		format = wire.FormatText
	}
	h.s = &sender{format: format, html: h.html, st: h.st, hs: h}
	h.s.filter(h.flt, q.From, h.kick)
	hd := h.w.Header()
	hd.Set("Content-Type", formTypes[h.form])
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	hd.Set("X-Content-Type-Options", "nosniff")
	if h.gz != nil {
		hd.Set("Content-Encoding", "gzip")
	}
	allowOrigin(hd, r)
	h.w.WriteHeader(http.StatusOK)
	h.dirty = true
	if h.gz != nil {
		if err := h.raw(gzipHeader[:]); err != nil {
			return err
		}
	}
	return h.flush()
}

// kick wakes a followed stream whose filter has a position to say
// (sayRead's timer). Never blocks.
func (h *httpStream) kick() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// refuseFormErr is refuseErr for a plain-HTTP form, counted as a refused
// stream as a WebSocket's is.
func (d *Daemon) refuseFormErr(w http.ResponseWriter, r *http.Request, err error) {
	rr := &refusalRecorder{ResponseWriter: w}
	d.refuseErr(rr, r, err)
	d.metrics.Refused(rr.status)
}

// allowOrigin lets a page of an allowed origin (checked by handleFile) read
// the response: EventSource and fetch follow CORS.
func allowOrigin(hd http.Header, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" {
		hd.Set("Access-Control-Allow-Origin", origin)
		hd.Add("Vary", "Origin")
	}
}

// follow sends the last lines (or what follows q.From), then every new line,
// until the client leaves, the daemon stops or the subscription ends. With
// a filter, the last lines are the last q.Lines that pass, found as a
// WebSocket stream finds them (filteredStart).
func (h *httpStream) follow(r *http.Request, name string, q wire.Query) {
	d := h.d
	opt := tailer.Options{Lines: q.Lines, HTML: h.html, From: q.From}
	lead, err := d.filteredStart(name, q, h.flt, &opt)
	if err != nil {
		d.refuseFormErr(h.w, r, err)
		return
	}
	if h.flt != nil {
		h.wake = make(chan struct{}, 1)
	}
	sub, err := d.hub.Subscribe(name, opt)
	if err != nil {
		d.refuseFormErr(h.w, r, err)
		return
	}
	defer sub.Close()
	defer context.AfterFunc(d.kill, h.drop)()
	var code wsconn.CloseCode
	if err = h.begin(r, name, q); err == nil {
		defer h.s.stopFilter()
		if lead != nil {
			err = h.s.put(lead)
		}
		if err == nil {
			code, err = h.run(r.Context(), sub)
		}
	}
	sub.Close()
	h.end(code, err)
}

// run sends what sub gives, a flush after each run of batches that were
// waiting, until the client leaves, the daemon stops or sub ends. It
// returns the close code a WebSocket stream would have had, for the log.
func (h *httpStream) run(ctx context.Context, sub *tailer.Subscription) (wsconn.CloseCode, error) {
	var keepAlive <-chan time.Time
	if h.form == formSSE && h.d.cfg.HeartbeatInterval > 0 {
		t := time.NewTicker(h.d.cfg.HeartbeatInterval)
		defer t.Stop()
		keepAlive = t.C
	}
	for {
		select {
		case <-ctx.Done(): // the client left: nothing more to write
			return 0, context.Cause(ctx)
		case <-h.d.quit.Done():
			return h.drain(sub)
		case <-keepAlive:
			if !h.wrote { // an idle stream: a comment, for proxies and to find a dead client
				if err := h.comment("keep-alive"); err != nil {
					return 0, err
				}
				if err := h.flush(); err != nil {
					return 0, err
				}
			}
			h.wrote = false
		case <-h.wake: // a filtered stream's position is due
			if err := h.s.sayRead(false); err != nil {
				return 0, err
			}
			if err := h.flush(); err != nil {
				return 0, err
			}
		case b, ok := <-sub.C:
			for sent := 0; ; {
				if !ok {
					return h.ended(sub.Err())
				}
				err := h.deliver(b)
				sub.Release(b)
				if err != nil {
					return 0, err
				}
				if sent += len(b.Raw); sent >= passBytes { // look at the client and the daemon again
					break
				}
				var waiting bool
				if b, ok, waiting = takeBatch(sub); !waiting {
					break
				}
			}
			if err := h.s.sayRead(false); err != nil {
				return 0, err
			}
			if err := h.flush(); err != nil {
				return 0, err
			}
		}
	}
}

// drain sends, when the daemon stops, what the follower has read for this
// client (Hub.Sync put what is on disk in its queue), as a WebSocket stream
// does before 1001: the response then ends, and an EventSource resumes
// after it once the daemon is back.
func (h *httpStream) drain(sub *tailer.Subscription) (wsconn.CloseCode, error) {
	for {
		b, ok, waiting := takeBatch(sub)
		if !waiting || !ok {
			break
		}
		err := h.deliver(b)
		sub.Release(b)
		if err != nil {
			return 0, err
		}
	}
	if err := h.s.sayRead(true); err != nil { // how far it has read: a resume starts there
		return 0, err
	}
	if err := h.comment("daemon shutting down"); err != nil {
		return 0, err
	}
	return wsconn.CodeGoingAway, h.flush()
}

// ended ends a stream whose subscription ended. A client too far behind
// (tailer.ErrSlow) gets what was queued, then the response ends, as a
// WebSocket stream is closed with 1013: an EventSource reconnects with
// Last-Event-ID and loses nothing. A file that could not be read ends the
// response without its last chunk (end).
func (h *httpStream) ended(why error) (wsconn.CloseCode, error) {
	code, reason, _ := closeFor(why)
	err := h.comment(reason)
	if err == nil {
		err = h.flush()
	}
	if code == wsconn.CodeInternal {
		h.d.log.Warn("following the file failed", "path", h.st.path, "err", why)
		err = errors.Join(why, err)
	}
	return code, err
}

// end ends the gzip stream of a response that ends cleanly, logs the
// stream's end and counts it. A file that could not be read
// (CodeInternal) aborts the response: the client sees a broken transfer,
// not the end of the lines.
func (h *httpStream) end(code wsconn.CloseCode, err error) {
	d := h.d
	if h.st == nil { // the headers could not be sent
		return
	}
	if h.gz != nil && err == nil && code != wsconn.CodeInternal {
		if err = h.gz.close(h); err == nil {
			h.dirty = true
			err = h.flush()
		}
	}
	h.s.release()
	d.reportSent(h.st)
	if code == wsconn.CodeTryAgainLater {
		d.metrics.SlowClose()
	}
	d.closed(h.st, code, err)
	if code == wsconn.CodeInternal {
		panic(http.ErrAbortHandler)
	}
}

// drop fails the stream's writes from now on: --shutdown-timeout is up
// and the client may be one that takes nothing.
func (h *httpStream) drop() { h.rc.SetWriteDeadline(time.Unix(1, 0)) }

// last sends the last lines and ends. As over WebSocket they are read a
// chunk at a time from the end; an unfinished last line counts as one of
// them, as in tail: in the text it ends the body without a newline, in
// json it is the last message's "partial". With a filter they are the last
// that pass, searched back at most --max-scan-bytes (lastMatching).
func (h *httpStream) last(r *http.Request, name string, q wire.Query) {
	d := h.d
	f, fi, _, err := d.box.Open(name)
	if err != nil {
		d.refuseFormErr(h.w, r, err)
		return
	}
	defer f.Close()
	defer context.AfterFunc(d.kill, h.drop)()
	if err := h.begin(r, name, q); err != nil {
		h.end(0, err)
		return
	}
	s := h.s
	err = d.sendLast(f, fi.Size(), q.Lines, true, h.flt, s, h.send, h.colours(), h.html)
	if err == nil && h.form == formText && s.partial != nil { // the text's end
		p := s.partial
		s.partial = nil
		if err = s.addLines(p); err != nil {
			h.sendErr = err
		}
	}
	h.endLines("reading the last lines failed", name, err, h.sendErr)
}

// colours is the renderer of a response's lines that are not followed,
// carried from one chunk to the next; nil without HTML.
func (h *httpStream) colours() tailer.Renderer {
	if h.html {
		return new(render.Stream)
	}
	return nil
}

// send puts b into the response, remembering a failure as the client's.
func (h *httpStream) send(b *tailer.Batch) error {
	if err := h.deliver(b); err != nil {
		h.sendErr = err
		return err
	}
	return nil
}

// endLines ends a response of lines that is not followed (the last lines,
// a page): at once when the client's connection failed (sendErr), without
// its last chunk when the file could not be read (err, logged as what),
// else cleanly.
func (h *httpStream) endLines(what, name string, err, sendErr error) {
	switch {
	case sendErr != nil:
		h.end(0, sendErr)
	case err != nil: // the file, not the client
		h.d.log.Warn(what, "path", name, "err", err)
		h.flush()
		h.end(wsconn.CodeInternal, err)
	default:
		if err := h.flush(); err != nil {
			h.end(0, err)
			return
		}
		h.end(wsconn.CodeNormal, nil)
	}
}

// deliver puts one batch into the response. Every batch of every plain-HTTP
// stream comes through here before it is written, the last lines as the
// followed ones, and through the sender's filter (sender.put): the lines a
// filtered client gets, its sizes and positions, as over WebSocket.
func (h *httpStream) deliver(b *tailer.Batch) error { return h.s.put(b) }

// frame writes a frame the sender made (s.msg after wsconn.HeaderRoom): the
// text as it is; a json message as a line (ndjson) or as an event whose
// data it is, with, in an event stream, the file event's kind as its type
// (e, when it is one) and its position as its id: after a message of
// lines, the point right after them, which resumes there.
func (h *httpStream) frame(s *sender, e *wire.Event) error {
	msg := s.msg[wsconn.HeaderRoom:]
	switch h.form {
	case formNDJSON:
		msg = append(msg, '\n') // a JSON message holds no raw newline: it is one line
	case formSSE:
		pos, hasPos := s.pos, true
		if e != nil {
			pos, hasPos = e.Pos, e.HasPos
			if !strings.ContainsAny(e.Kind, "\r\n") { // a field is one line
				if err := h.put([]byte("event: " + e.Kind + "\n")); err != nil {
					return err
				}
			}
		}
		const data = "data: " // in the room the sender keeps for a WebSocket header
		msg = s.msg[wsconn.HeaderRoom-len(data):]
		copy(msg, data)
		if hasPos {
			msg = append(msg, "\nid: "...)
			msg = pos.Append(msg)
		}
		msg = append(msg, "\n\n"...)
	}
	err := h.put(msg)
	h.st.frames++
	s.msg = s.msg[:wsconn.HeaderRoom]
	return err
}

// comment adds an event stream's comment (ignored by clients): a
// keep-alive, or why the stream ends. Other forms have none.
func (h *httpStream) comment(text string) error {
	if h.form != formSSE {
		return nil
	}
	if err := h.s.flush(); err != nil {
		return err
	}
	return h.put([]byte(": " + text + "\n\n"))
}

// put writes p, compressed when the stream is gzipped.
func (h *httpStream) put(p []byte) error {
	if h.gz != nil {
		return h.gz.write(h, p)
	}
	return h.raw(p)
}

// raw writes p to the response. The write deadline moves on only when half
// of it is used up, as wsconn does: a write fails when the client has taken
// nothing for between writeTimeout/2 and writeTimeout.
func (h *httpStream) raw(p []byte) error {
	if now := time.Now(); h.deadline.Sub(now) < writeTimeout/2 {
		h.deadline = now.Add(writeTimeout)
		h.rc.SetWriteDeadline(h.deadline)
		if h.d.kill.Err() != nil { // dropped meanwhile: drop stands
			h.drop()
		}
	}
	_, err := h.w.Write(p)
	h.st.bytes += len(p)
	h.dirty, h.wrote = true, true
	return err
}

// flush ends the message in the making and sends everything on to the
// client now (the compressor's output, net/http's buffer, the chunk). The
// frame buffer and the compressor go back to their pools: an idle stream
// holds neither.
func (h *httpStream) flush() error {
	if err := h.s.flush(); err != nil {
		return err
	}
	if h.gz != nil {
		if err := h.gz.flush(); err != nil {
			return err
		}
	}
	h.s.release()
	if !h.dirty {
		return nil
	}
	h.dirty = false
	err := h.rc.Flush()
	h.d.reportSent(h.st)
	return err
}
