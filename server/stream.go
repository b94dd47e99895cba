package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/logtail/logtail/wire"

	"github.com/logtail/logtail/heartbeat"
	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/sandbox"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/web"
	"github.com/logtail/logtail/wsconn"
)

// frameTarget is the size a frame grows to when lines are waiting: large
// enough to batch well, small enough for a browser to parse at once.
const frameTarget = 32 << 10

// refuseErr maps an error from the sandbox or the tailer to a refusal.
func (d *Daemon) refuseErr(w http.ResponseWriter, r *http.Request, err error) {
	status, reason := http.StatusInternalServerError, "cannot read the file"
	var se *sandbox.Error
	switch {
	case outOfFiles(err): // passing: the client tries again (logtail -F does)
		d.short.add("request", "out of descriptors: a request refused with 503", "path", clip(r.URL.Path), "err", err)
		status, reason = http.StatusServiceUnavailable, "out of open files; try again later"
		w.Header().Set("Retry-After", "1")
	case errors.As(err, &se):
		status, reason = se.Status, se.Reason
	case errors.Is(err, tailer.ErrClosed):
		status, reason = http.StatusServiceUnavailable, "daemon shutting down"
		w.Header().Set("Retry-After", "1")
	default:
		d.log.Error("cannot serve file", "path", clip(r.URL.Path), "err", err)
	}
	if isWebSocket(r) {
		d.metrics.Refused(status)
	}
	d.refused(r, status, reason)
	web.Refuse(w, status, reason)
}

// refuseStream refuses a stream handshake, counting it.
func (d *Daemon) refuseStream(w http.ResponseWriter, r *http.Request, status int, reason string) {
	d.metrics.Refused(status)
	d.refused(r, status, reason)
	web.Refuse(w, status, reason)
}

// refusalLogInterval is how often at most a refusal of one status is logged
// on its own; those in between are counted (rateLog).
const refusalLogInterval = time.Second

// newRefusalLog is the log of refused requests.
func newRefusalLog(log *slog.Logger) *rateLog {
	return newRateLog(log, slog.LevelInfo, refusalLogInterval)
}

// refused logs a refused request (logRefusal), but for a browser's own
// request for /favicon.ico, which every page's opening would add to the log.
func (d *Daemon) refused(r *http.Request, status int, reason string, attrs ...any) {
	if r.URL.Path == "/favicon.ico" && !isWebSocket(r) {
		return
	}
	logRefusal(d.refusals, r, status, reason, attrs...)
}

// logRefusal logs a refused request at info, for an operator wondering why a
// client or a browser gets nothing: the status, the reason it was told, who
// asked and the path, with attrs. Never the query (it may hold ?token=) nor
// the headers (Authorization, Cookie). At most one line per status per
// refusalLogInterval: a flood of refusals (a scanner, a client retrying
// without its token) costs a line a second, with the count of the others.
func logRefusal(l *rateLog, r *http.Request, status int, reason string, attrs ...any) {
	l.add(strconv.Itoa(status), "request refused", append([]any{"status", status, "reason", clip(reason),
		"remote", r.RemoteAddr, "path", clip(r.URL.Path), "stream", isWebSocket(r)}, attrs...)...)
}

// clip cuts what a client sent (a path, a Host, an Origin in a reason) to a
// length fit for a log line.
func clip(s string) string {
	const limit = 256
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// handshakeFailed logs a WebSocket upgrade that failed after the daemon
// admitted the stream: a refusal when the handshake itself was wrong (the
// library answered it with a status: a bad Sec-WebSocket-Key, version…).
func (d *Daemon) handshakeFailed(r *http.Request, err error) {
	var rej interface{ StatusCode() int }
	if errors.As(err, &rej) && rej.StatusCode() != 0 {
		d.refused(r, rej.StatusCode(), err.Error())
		return
	}
	d.log.Info("handshake failed", "remote", r.RemoteAddr, "err", err)
}

// refusalRecorder notes what a page handler (the index, the viewer, the
// assets) answered, and the start of the body of a refusal (its reason), so
// that the daemon can log the refusal.
type refusalRecorder struct {
	http.ResponseWriter
	status int
	reason []byte
}

const recordedReason = 256

func (rr *refusalRecorder) WriteHeader(code int) {
	if rr.status == 0 && code >= 200 {
		rr.status = code
	}
	rr.ResponseWriter.WriteHeader(code)
}

func (rr *refusalRecorder) Write(p []byte) (int, error) {
	if rr.status == 0 {
		rr.status = http.StatusOK
	}
	if rr.status >= 400 && len(rr.reason) < recordedReason {
		rr.reason = append(rr.reason, p[:min(len(p), recordedReason-len(rr.reason))]...)
	}
	return rr.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (rr *refusalRecorder) Unwrap() http.ResponseWriter { return rr.ResponseWriter }

// page runs a page handler, logging its refusal if it refuses.
func (d *Daemon) page(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter)) {
	rr := &refusalRecorder{ResponseWriter: w}
	serve(rr)
	if rr.status >= 400 {
		reason, _, _ := strings.Cut(string(rr.reason), "\n")
		if reason = strings.TrimSpace(reason); reason == "" {
			reason = http.StatusText(rr.status)
		}
		d.refused(r, rr.status, reason)
	}
}

func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// CheckOrigin checks an --allow-origin value: an origin as a browser sends
// it in its Origin header, scheme://host[:port] with scheme http or https and
// nothing else (no path, query, fragment or user). Anything else would
// never match, so it is refused at start with what to write instead.
func CheckOrigin(origin string) error {
	_, err := canonOrigin(origin)
	return err
}

// canonOrigin is an --allow-origin value as browsers send it: lower case,
// without a trailing slash or the scheme's default port.
func canonOrigin(origin string) (string, error) {
	o := strings.TrimSpace(origin)
	bad := func(format string, a ...any) (string, error) {
		return "", fmt.Errorf("--allow-origin %q: "+format, append([]any{origin}, a...)...)
	}
	scheme, rest, found := strings.Cut(o, "://")
	if strings.Contains(o, "*") {
		return bad("wildcards are not supported: give each origin allowed as scheme://host[:port], " +
			"e.g. --allow-origin https://app.example.com (repeatable, or LOGTAILD_ALLOW_ORIGIN=a,b); " +
			"clients that send no Origin (scripts, logtail) need none")
	}
	if !found {
		return bad("want scheme://host[:port], as a browser sends it in Origin: write https://%s (or http://%s)", o, o)
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case "http", "https":
	case "ws", "wss":
		page := map[string]string{"ws": "http", "wss": "https"}[scheme]
		return bad("want the origin of the page that opens the stream, not the stream's URL: write %s://%s", page, rest)
	default:
		return bad("want an http:// or https:// origin, the address of the page that opens the stream")
	}
	u, err := url.Parse(scheme + "://" + rest)
	if err != nil {
		return bad("want scheme://host[:port]: %v", err)
	}
	if u.Hostname() == "" {
		return bad("no host: want scheme://host[:port], e.g. https://app.example.com")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad("port %q: want 1 to 65535", port)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("empty port: write %s://%s", scheme, strings.TrimSuffix(u.Host, ":"))
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(rest, "#") {
		return bad("an origin is scheme://host[:port] alone, without a user, path, query or fragment: write %s://%s",
			scheme, strings.ToLower(u.Host))
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (scheme == "http" && p == "80") || (scheme == "https" && p == "443") {
		host = strings.ToLower(u.Hostname()) // browsers leave the default port out
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return scheme + "://" + host, nil
}

// originAllowed lets requests without Origin through (not a browser), and
// browsers only from the daemon's own origin or an allowed one.
func (d *Daemon) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range d.cfg.AllowOrigins { // canonical (New)
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

func (d *Daemon) handleFile(w http.ResponseWriter, r *http.Request) {
	if !isWebSocket(r) { // a browser: the viewer page, after the same checks as a stream
		name, err := d.box.Name(r.URL.EscapedPath())
		if err != nil {
			d.refuseErr(w, r, err)
			return
		}
		if _, err := d.checkFile(name); err != nil {
			d.refuseErr(w, r, err)
			return
		}
		d.page(w, r, func(w http.ResponseWriter) { d.web.Viewer(w, r, name) })
		return
	}
	if r.Method != http.MethodGet {
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
	if q.Tail {
		d.follow(w, r, name, q, done)
	} else {
		defer done()
		d.last(w, r, name, q)
	}
}

// last sends the last lines and closes with 1000. They are read and sent a
// frame at a time: what a request holds is bounded by a frame and a line,
// not by lines × --max-line-bytes.
func (d *Daemon) last(w http.ResponseWriter, r *http.Request, name string, q wire.Query) {
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
	if withPartial {
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
	defer s.release()
	colours := new(render.Stream) // carried from one chunk to the next
	var sendErr error             // the client's connection failed, not the file
	send := func(b *tailer.Batch) error {
		if err := s.add(b); err != nil {
			sendErr = err
			return err
		}
		return nil
	}
	// The scan reads at most (lines+1) × --max-line-bytes from the end,
	// whatever the file holds.
	last, err := tailer.LastLinesEach(f, size, n, d.cfg.MaxLineBytes, frameTarget, func(ch tailer.LastChunk) error {
		b := tailer.NewBatch(ch.Raw, q.WantHTML(), colours)
		b.Sizes = ch.Sizes
		var err error
		if b.End, err = tailer.PositionAt(f, ch.End); err != nil {
			return err
		}
		return send(b)
	})
	if err == nil {
		stop := last.Stop
		if stop < 0 {
			stop = size // no line end within reach
		}
		// where the lines end, also when there are none
		b := tailer.NewBatch(nil, false, colours)
		if b.End, err = tailer.PositionAt(f, stop); err == nil {
			if withPartial && len(last.Partial) > 0 {
				s.partial = wire.AppendValidUTF8(nil, last.Partial)
			}
			if err = send(b); err == nil {
				if err = s.flush(); err != nil {
					sendErr = err
				}
			}
		}
	}
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

// follow sends the last lines, then every new one, until the client leaves,
// the daemon stops, the heartbeat fails or the client falls too far behind.
func (d *Daemon) follow(w http.ResponseWriter, r *http.Request, name string, q wire.Query, done func()) {
	st := &stream{d: d, done: done}
	st.state.Store(running) // set-up owns it; kicks until then ask for a pass
	sub, err := d.hub.Subscribe(name, tailer.Options{Lines: q.Lines, HTML: q.WantHTML(), From: q.From, Notify: st.kick})
	if err != nil {
		d.refuseErr(w, r, err)
		done()
		return
	}
	hb := heartbeat.New(d.cfg.HeartbeatInterval, d.cfg.HeartbeatTimeout, st.kick)
	c, err := wsconn.Upgrade(w, r, wsconn.Config{Notify: st.kick}, hb.Pong)
	if err != nil {
		d.handshakeFailed(r, err)
		hb.Stop()
		sub.Close()
		done()
		return
	}
	st.s, st.sub, st.hb = newSender(c, q, d.opened(r, name, q)), sub, hb
	st.stopQuit = context.AfterFunc(d.quit, st.kick)
	st.stopKill = context.AfterFunc(d.kill, c.Abort)
	// The handler returns: net/http's connection goroutine, its stack and the
	// request go away. From here the stream runs only when kicked.
	go st.run()
}

// stream is one followed stream. While idle it has no goroutine of its own
// (only the connection's reader, parked): the follower (a batch), the reader
// (a frame from the client), the heartbeat's timer and the daemon's stop
// each kick it, and a kick starts a run unless one is under way. A run does
// all there is to do, then ends. At 10,000 idle streams that is a goroutine
// and its stack (4 KiB, as the write path grows it) fewer per stream.
type stream struct {
	d        *Daemon
	s        *sender
	sub      *tailer.Subscription
	hb       *heartbeat.Monitor
	done     func()
	stopQuit func() bool
	stopKill func() bool // the drop at the end of --shutdown-timeout
	state    atomic.Int32
}

// A stream's states.
const (
	idle    int32 = iota
	running       // a run is under way
	rerun         // kicked while running: the run makes another pass
	ended
)

// passBytes bounds the frames one pass sends before it looks at the
// client's frames, the heartbeat and the daemon's stop again.
const passBytes = 8 * frameTarget

// kick asks for a run. Safe from any goroutine; never blocks.
func (st *stream) kick() {
	for {
		switch v := st.state.Load(); v {
		case idle:
			if st.state.CompareAndSwap(idle, running) {
				go st.run()
				return
			}
		case running:
			if st.state.CompareAndSwap(running, rerun) {
				return
			}
		default: // rerun already asked, or ended
			return
		}
	}
}

// run makes passes until there is nothing left to do, then goes idle, or
// closes the stream when a pass says it is over.
func (st *stream) run() {
	for {
		code, reason, end, more, err := st.pass()
		if end {
			st.state.Store(ended)
			st.finish(code, reason, err)
			return
		}
		if more {
			continue
		}
		if st.state.CompareAndSwap(running, idle) {
			return
		}
		st.state.Store(running) // kicked meanwhile: look again
	}
}

// pass does what is waiting: the daemon's stop, the client's frames, the
// heartbeat, then the lines, up to passBytes. end says the stream is over,
// with the close code to send or an error when it is beyond closing
// politely; more, that lines are still waiting.
func (st *stream) pass() (code int, reason string, end, more bool, err error) {
	s, sub, hb := st.s, st.sub, st.hb
	if st.d.quit.Err() != nil {
		if err := st.drain(); err != nil {
			return 0, "", true, false, err
		}
		return wsconn.CodeGoingAway, "daemon shutting down", true, false, nil
	}
	for frames := true; frames; {
		select {
		case ev := <-s.c.Events():
			switch ev.Kind {
			case wsconn.Ping:
				if err := s.c.Pong(ev.Payload); err != nil {
					return 0, "", true, false, err
				}
			case wsconn.PeerClose:
				return ev.Code, "", true, false, nil
			case wsconn.Broken:
				return ev.Code, ev.Reason, true, false, nil
			case wsconn.Gone:
				return 0, "", true, false, ev.Err
			}
		default:
			frames = false
		}
	}
	select {
	case <-hb.Pongs():
		hb.Answered()
	default:
	}
	if hb.Due() {
		if err := hb.Fire(); err != nil {
			return 0, "", true, false, err
		}
		if err := s.c.Ping(); err != nil {
			return 0, "", true, false, err
		}
	}
	sent := s.st.bytes
	for s.st.bytes-sent < passBytes {
		b, ok, waiting := takeBatch(sub)
		if !waiting {
			break
		}
		if !ok {
			if err := s.flush(); err != nil {
				return 0, "", true, false, err
			}
			code, reason, err := closeFor(sub.Err())
			return code, reason, true, false, err
		}
		err := s.add(b) // writes each frame as it fills
		sub.Release(b)
		if err != nil {
			return 0, "", true, false, err
		}
	}
	more = s.st.bytes-sent >= passBytes
	err = s.flush()
	st.d.reportSent(s.st)
	if err != nil {
		return 0, "", true, false, err
	}
	s.release() // nothing held while the stream is idle
	return 0, "", false, more, nil
}

// drain sends, when the daemon stops, what the follower has read for this
// client (at most its queue): the client resumes after it, and a file
// removed or cut while the daemon is down cannot take those lines with it.
// Not inlined into pass, whose frame is under every write.
//
//go:noinline
func (st *stream) drain() error {
	s, sub := st.s, st.sub
	for {
		b, ok, waiting := takeBatch(sub)
		if !waiting || !ok {
			break
		}
		err := s.add(b)
		sub.Release(b)
		if err != nil {
			return err
		}
	}
	err := s.flush()
	st.d.reportSent(s.st)
	return err
}

// takeBatch takes the batch waiting in sub, if one is (ok is false when the
// subscription has ended).
func takeBatch(sub *tailer.Subscription) (b *tailer.Batch, ok, waiting bool) {
	select {
	case b, ok = <-sub.C:
		return b, ok, true
	default:
		return nil, false, false
	}
}

// finish closes a stream that a pass has ended.
func (st *stream) finish(code int, reason string, err error) {
	d, s := st.d, st.s
	st.stopQuit()
	st.stopKill()
	st.hb.Stop()
	s.release()
	d.reportSent(s.st)
	switch {
	case errors.Is(err, heartbeat.ErrTimeout):
		d.metrics.HeartbeatTimeout()
	case code == wsconn.CodeTryAgainLater:
		d.metrics.SlowClose()
	}
	switch {
	case err != nil:
		s.c.Abort()
	default:
		s.c.Close(code, reason)
	}
	st.sub.Close()
	d.closed(s.st, code, err)
	st.done()
}

// closeFor maps why a subscription ended to a close code.
func closeFor(err error) (int, string, error) {
	switch {
	case errors.Is(err, tailer.ErrSlow):
		return wsconn.CodeTryAgainLater, "too slow: fell too far behind; reconnect to resume", nil
	case errors.Is(err, tailer.ErrClosed):
		return wsconn.CodeGoingAway, "daemon shutting down", nil
	default:
		return wsconn.CodeInternal, "cannot read the file", nil
	}
}

// streamStats is what the close log line reports.
type streamStats struct {
	remote string
	path   string
	start  time.Time
	lines  int
	bytes  int
	frames int

	// what reportSent has already counted in the metrics
	reportedLines, reportedBytes, reportedFrames int
}

// reportSent adds what the stream sent since the last report to the metrics:
// once per flush, a few atomic adds, not per line.
func (d *Daemon) reportSent(st *streamStats) {
	d.metrics.Sent(st.lines-st.reportedLines, st.bytes-st.reportedBytes, st.frames-st.reportedFrames)
	st.reportedLines, st.reportedBytes, st.reportedFrames = st.lines, st.bytes, st.frames
}

func (d *Daemon) opened(r *http.Request, name string, q wire.Query) *streamStats {
	st := &streamStats{remote: r.RemoteAddr, path: name, start: time.Now()}
	// a resume says where it resumes from; lines=N is not what it asked for
	what := slog.Int("lines", q.Lines)
	if q.From != nil {
		what = slog.String("from", q.From.String())
	}
	d.log.Info("stream opened", "remote", st.remote, "path", name, what, "tail", q.Tail, "format", q.Format)
	return st
}

func (d *Daemon) closed(st *streamStats, code int, err error) {
	attrs := []any{"remote", st.remote, "path", st.path, "duration", time.Since(st.start).Round(time.Millisecond),
		"lines_sent", st.lines, "bytes_sent", st.bytes, "close_code", code}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	d.log.Info("stream closed", attrs...)
}
