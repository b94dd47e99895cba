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
// ndjson or Server-Sent Events. A refusal (status and reason) comes before
// any byte of the body; once the body has started, the stream can only end.
func (d *Daemon) serveHTTPForm(w http.ResponseWriter, r *http.Request, name string, q wire.Query, form httpForm) {
	if form == formDownload {
		d.download(w, r, name)
		return
	}
	if q.Grep != "" || q.Exclude != "" {
		// deliver is where a filter goes; until it does, no unfiltered lines
		d.refuseStream(w, r, http.StatusBadRequest, "grep= and exclude= apply to WebSocket streams only, not yet over plain HTTP")
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
	h := &httpStream{d: d, w: w, rc: http.NewResponseController(w), form: form,
		html: form != formText && q.HTML}
	if q.Tail {
		h.follow(r, name, q)
	} else {
		h.last(r, name, q)
	}
}

// httpStream writes one plain-HTTP stream: the lines as text (formText),
// or json messages, one a line (formNDJSON) or as Server-Sent Events
// (formSSE). It is used by its handler's goroutine only.
type httpStream struct {
	d    *Daemon
	w    http.ResponseWriter
	rc   *http.ResponseController
	form httpForm
	html bool // json lines in their HTML form (html=1)
	st   *streamStats

	out      []byte    // gathered, not yet written: whole messages, and the one being built
	deadline time.Time // the connection's write deadline (write)
	dirty    bool      // written since the last flush
	wrote    bool      // written since the last keep-alive tick

	// the json message being built (formSSE, formNDJSON), as sender does
	open    bool          // out ends with a lines message not yet closed
	filled  bool          // ... with at least one line in it
	start   int           // where that message starts in out
	sizes   []byte        // its lines' sizes in the file
	pos     wire.Position // where its lines end
	partial []byte        // an unfinished last line, when not following
}

// The content types of the forms.
var formTypes = map[httpForm]string{
	formSSE:    "text/event-stream",
	formText:   "text/plain; charset=utf-8",
	formNDJSON: "application/x-ndjson",
}

// begin sends the response's headers at once (a followed stream with no
// lines yet is still a stream that started): no-cache, nosniff, and
// X-Accel-Buffering: no, so that nginx passes each flush on at once.
func (h *httpStream) begin(r *http.Request, name string, q wire.Query) error {
	logged := q
	logged.Format = h.form.String()
	h.st = h.d.opened(r, name, logged)
	hd := h.w.Header()
	hd.Set("Content-Type", formTypes[h.form])
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	hd.Set("X-Content-Type-Options", "nosniff")
	allowOrigin(hd, r)
	h.w.WriteHeader(http.StatusOK)
	h.dirty = true
	return h.flush()
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
// until the client leaves, the daemon stops or the subscription ends.
func (h *httpStream) follow(r *http.Request, name string, q wire.Query) {
	d := h.d
	sub, err := d.hub.Subscribe(name, tailer.Options{Lines: q.Lines, HTML: h.html, From: q.From})
	if err != nil {
		d.refuseFormErr(h.w, r, err)
		return
	}
	defer sub.Close()
	defer context.AfterFunc(d.kill, h.drop)()
	var code wsconn.CloseCode
	if err = h.begin(r, name, q); err == nil {
		code, err = h.run(r.Context(), sub)
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
				h.comment("keep-alive")
				if err := h.flush(); err != nil {
					return 0, err
				}
			}
			h.wrote = false
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
	h.comment("daemon shutting down")
	return wsconn.CodeGoingAway, h.flush()
}

// ended ends a stream whose subscription ended. A client too far behind
// (tailer.ErrSlow) gets what was queued, then the response ends, as a
// WebSocket stream is closed with 1013: an EventSource reconnects with
// Last-Event-ID and loses nothing. A file that could not be read ends the
// response without its last chunk (end).
func (h *httpStream) ended(why error) (wsconn.CloseCode, error) {
	code, reason, _ := closeFor(why)
	h.comment(reason)
	err := h.flush()
	if code == wsconn.CodeInternal {
		h.d.log.Warn("following the file failed", "path", h.st.path, "err", why)
		err = errors.Join(why, err)
	}
	return code, err
}

// end logs the stream's end and counts it. A file that could not be read
// (CodeInternal) aborts the response: the client sees a broken transfer,
// not the end of the lines.
func (h *httpStream) end(code wsconn.CloseCode, err error) {
	d := h.d
	if h.st == nil { // the headers could not be sent
		return
	}
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
// json it is the last message's "partial".
func (h *httpStream) last(r *http.Request, name string, q wire.Query) {
	d := h.d
	f, fi, _, err := d.box.Open(name)
	if err != nil {
		d.refuseFormErr(h.w, r, err)
		return
	}
	defer f.Close()
	size, n := fi.Size(), q.Lines
	withPartial := n > 0 && size > 0 && !endsLine(f, size)
	if withPartial {
		n--
	}
	defer context.AfterFunc(d.kill, h.drop)()
	if err := h.begin(r, name, q); err != nil {
		h.end(0, err)
		return
	}
	var colours tailer.Renderer // carried from one chunk to the next
	if h.html {
		colours = new(render.Stream)
	}
	var sendErr error // the client's connection failed, not the file
	deliver := func(b *tailer.Batch) error {
		if err := h.deliver(b); err != nil {
			sendErr = err
			return err
		}
		return nil
	}
	last, err := tailer.LastLinesEach(f, size, n, d.cfg.MaxLineBytes, frameTarget, func(ch tailer.LastChunk) error {
		b := tailer.NewBatch(ch.Raw, h.html, colours)
		b.Sizes = ch.Sizes
		var err error
		if b.End, err = tailer.PositionAt(f, ch.End); err != nil {
			return err
		}
		return deliver(b)
	})
	if err == nil {
		stop := last.Stop
		if stop < 0 {
			stop = size // no line end within reach
		}
		b := tailer.NewBatch(nil, false, nil) // where the lines end, also when there are none
		if b.End, err = tailer.PositionAt(f, stop); err == nil {
			if err = deliver(b); err == nil && withPartial && len(last.Partial) > 0 {
				h.addPartial(wire.AppendValidUTF8(nil, last.Partial))
			}
		}
	}
	switch {
	case sendErr != nil:
		h.end(0, sendErr)
	case err != nil: // the file, not the client
		d.log.Warn("reading the last lines failed", "path", name, "err", err)
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
// followed ones: the one place for what decides, line by line, what a
// client gets (a grep= filter).
func (h *httpStream) deliver(b *tailer.Batch) error {
	h.st.lines += b.Lines
	if h.form == formText {
		h.out = append(h.out, b.Text...) // events are not told in text, as over WebSocket
	} else {
		h.addJSON(b)
	}
	if !h.open && len(h.out) >= frameTarget {
		return h.write()
	}
	return nil
}

// addJSON puts a batch into json messages, as the WebSocket sender does: a
// message holds lines of one file, up to about frameTarget bytes; an event
// is a message of its own; a batch without lines or event is a position
// (where a new stream stands).
func (h *httpStream) addJSON(b *tailer.Batch) {
	if h.open && !wire.Continues(h.pos, b.End) { // a message's lines are of one file
		h.closeLines()
	}
	if b.Event != "" {
		if h.open {
			h.closeLines()
		}
		h.event(b)
	}
	if b.Lines == 0 {
		if b.Event == "" {
			if !h.open {
				h.openLines()
			}
			h.pos = b.End
		}
		return
	}
	switch {
	case h.filled:
		h.out = append(h.out, ',')
		h.sizes = append(h.sizes, ',')
	case !h.open: // (open and empty: a position was all it held)
		h.openLines()
	}
	h.filled = true
	if h.html {
		h.out = append(h.out, b.Form(formHTMLLines, jsonHTMLLines)...)
	} else {
		h.out = append(h.out, b.Form(formLines, jsonLines)...)
	}
	h.sizes = append(h.sizes, b.Form(formSizes, jsonSizes)...)
	h.pos = b.End
	if len(h.out)-h.start >= frameTarget {
		h.closeLines()
	}
}

// openLines starts a message of lines: in an event stream, a data field.
func (h *httpStream) openLines() {
	h.start = len(h.out)
	if h.form == formSSE {
		h.out = append(h.out, "data: "...)
	}
	h.out = append(h.out, wire.LinesStart...)
	h.open = true
}

// closeLines ends the message of lines: in an event stream, its id is the
// position after its lines, which resumes right after them.
func (h *httpStream) closeLines() {
	h.out = wire.AppendLinesEnd(h.out, h.sizes, h.partial, h.pos)
	h.endMessage(h.pos, true)
	h.sizes, h.partial = h.sizes[:0], nil
	h.open, h.filled = false, false
}

// event writes a file event as a message of its own: in an event stream,
// with the event's kind as its type (event: rotated, truncated, gap).
func (h *httpStream) event(b *tailer.Batch) {
	e := wire.Event{Kind: b.Event, Reason: b.Reason, File: b.File, Bytes: b.Bytes,
		Pos: b.End, HasPos: b.End != (wire.Position{})}
	if h.form == formSSE {
		if !strings.ContainsAny(e.Kind, "\r\n") { // a field is one line
			h.out = append(h.out, "event: "...)
			h.out = append(h.out, e.Kind...)
			h.out = append(h.out, '\n')
		}
		h.out = append(h.out, "data: "...)
	}
	h.out = wire.AppendEvent(h.out, e)
	h.endMessage(e.Pos, e.HasPos)
}

// endMessage ends a json message: a newline (ndjson), or, in an event
// stream, the id field when the message has a position and the blank line
// that dispatches it. A JSON message holds no raw newline: it is one line.
func (h *httpStream) endMessage(pos wire.Position, hasPos bool) {
	if h.form != formSSE {
		h.out = append(h.out, '\n')
		return
	}
	if hasPos {
		h.out = append(h.out, "\nid: "...)
		h.out = pos.Append(h.out)
	}
	h.out = append(h.out, "\n\n"...)
}

// addPartial gives the unfinished last line (without tail=1): the end of
// the text, or the "partial" of the last json message.
func (h *httpStream) addPartial(p []byte) {
	if h.form == formText {
		h.out = append(h.out, p...)
		return
	}
	h.partial = p
}

// comment adds an event stream's comment (ignored by clients): a
// keep-alive, or why the stream ends. Other forms have none.
func (h *httpStream) comment(text string) {
	if h.form != formSSE {
		return
	}
	if h.open {
		h.closeLines()
	}
	h.out = append(h.out, ": "...)
	h.out = append(h.out, text...)
	h.out = append(h.out, "\n\n"...)
}

// write writes what is gathered. The write deadline moves on only when half
// of it is used up, as wsconn does: a write fails when the client has taken
// nothing for between writeTimeout/2 and writeTimeout.
func (h *httpStream) write() error {
	if len(h.out) == 0 {
		return nil
	}
	if now := time.Now(); h.deadline.Sub(now) < writeTimeout/2 {
		h.deadline = now.Add(writeTimeout)
		h.rc.SetWriteDeadline(h.deadline)
		if h.d.kill.Err() != nil { // dropped meanwhile: drop stands
			h.drop()
		}
	}
	_, err := h.w.Write(h.out)
	h.st.bytes += len(h.out)
	h.st.frames++
	h.dirty, h.wrote = true, true
	if cap(h.out) > 2*frameTarget { // after a long line: do not keep its buffer
		h.out = nil
	} else {
		h.out = h.out[:0]
	}
	return err
}

// flush ends the message in the making and sends everything on to the
// client now (net/http's buffer, the chunk).
func (h *httpStream) flush() error {
	if h.open {
		h.closeLines()
	}
	if err := h.write(); err != nil {
		return err
	}
	if !h.dirty {
		return nil
	}
	h.dirty = false
	err := h.rc.Flush()
	h.d.reportSent(h.st)
	return err
}
