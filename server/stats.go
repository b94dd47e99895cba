// What a stream sent, for the log and the metrics.

package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// streamStats is what the close log line reports.
type streamStats struct {
	remote string
	path   string
	start  time.Time
	lines  int
	bytes  int
	frames int
	// of those, sent compressed (permessage-deflate): frames, payload bytes
	zframes, zbytes int
	// name is the daemon's, which the stream's first json message says
	name []byte

	// what reportSent has already counted in the metrics
	reportedLines, reportedBytes, reportedFrames int
	reportedZFrames, reportedZBytes              int
}

// reportSent adds what the stream sent since the last report to the metrics:
// once per flush, a few atomic adds, not per line.
func (d *Daemon) reportSent(st *streamStats) {
	d.metrics.Sent(st.lines-st.reportedLines, st.bytes-st.reportedBytes, st.frames-st.reportedFrames)
	st.reportedLines, st.reportedBytes, st.reportedFrames = st.lines, st.bytes, st.frames
	if st.zframes != st.reportedZFrames {
		d.metrics.SentCompressed(st.zframes-st.reportedZFrames, st.zbytes-st.reportedZBytes)
		st.reportedZFrames, st.reportedZBytes = st.zframes, st.zbytes
	}
}

func (d *Daemon) opened(r *http.Request, name string, q wire.Query) *streamStats {
	st := &streamStats{remote: r.RemoteAddr, path: name, start: time.Now(), name: d.name}
	// a resume says where it resumes from; lines=N is not what it asked for
	what := slog.Int("lines", q.Lines)
	if q.From != nil {
		what = slog.String("from", q.From.String())
	}
	d.log.Info("stream opened", "remote", st.remote, "path", name, what, "tail", q.Tail, "format", q.Format)
	return st
}

func (d *Daemon) closed(st *streamStats, code wsconn.CloseCode, err error) {
	attrs := []any{"remote", st.remote, "path", st.path, "duration", time.Since(st.start).Round(time.Millisecond),
		"lines_sent", st.lines, "bytes_sent", st.bytes, "close_code", code}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	d.log.Info("stream closed", attrs...)
}
