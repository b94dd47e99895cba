// Refusals: a request that is not served gets an HTTP status and a one-line
// reason, is counted, and is logged (rate-limited, never with its query).

package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logtail/logtail/sandbox"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/web"
)

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
