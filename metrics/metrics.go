package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are the gauges read at scrape time rather than kept up to date.
type Sources struct {
	OpenStreams func() int // streams admitted and not yet ended
	Followers   func() int // files being followed
}

// Metrics is one daemon's set of metrics. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg        *prometheus.Registry
	lines      prometheus.Counter
	bytes      prometheus.Counter
	frames     prometheus.Counter
	zframes    prometheus.Counter
	zbytes     prometheus.Counter
	refused    *prometheus.CounterVec
	heartbeats prometheus.Counter
	slow       prometheus.Counter
	events     *prometheus.CounterVec
	gaps       prometheus.Counter
	// refusals by the statuses the daemon answers, looked up without the
	// label map on each refusal.
	refusedBy map[int]prometheus.Counter
}

// New registers the daemon's metrics, the Go runtime's and the process's.
func New(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	f := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "logtaild_" + name, Help: help})
		reg.MustRegister(c)
		return c
	}
	m := &Metrics{
		reg:        reg,
		lines:      f("lines_sent_total", "Lines sent to clients, counted once per client."),
		bytes:      f("bytes_sent_total", "Payload bytes of the data frames sent to clients."),
		frames:     f("frames_sent_total", "Data frames sent to clients."),
		zframes:    f("frames_sent_compressed_total", "Data frames sent compressed (permessage-deflate), counted once per client; also in frames_sent_total."),
		zbytes:     f("bytes_sent_compressed_total", "Payload bytes of the frames sent compressed, as sent (compressed); also in bytes_sent_total."),
		heartbeats: f("heartbeat_timeouts_total", "Streams dropped because no pong came within --heartbeat-timeout."),
		slow:       f("slow_client_closes_total", "Streams closed with 1013 because the client fell too far behind."),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtaild_handshakes_refused_total",
			Help: "Stream handshakes refused before the upgrade, by HTTP status.",
		}, []string{"status"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtaild_rotations_total",
			Help: "Rotations and truncations seen by the followers (once per file, not per client), by kind.",
		}, []string{"kind"}),
		gaps:      f("gaps_total", "Gap events sent: lines that could not be delivered, said to the clients (once per file for a follower's, once per client for a resume's)."),
		refusedBy: map[int]prometheus.Counter{},
	}
	reg.MustRegister(m.refused, m.events,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "logtaild_streams_open", Help: "Streams open now."},
			func() float64 { return float64(src.OpenStreams()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "logtaild_followers", Help: "Files being followed now (one follower per file, whatever its clients)."},
			func() float64 { return float64(src.Followers()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, st := range []int{400, 401, 403, 404, 405, 500, 503} {
		m.refusedBy[st] = m.refused.WithLabelValues(strconv.Itoa(st))
	}
	for _, kind := range []string{"rotated", "truncated"} {
		m.events.WithLabelValues(kind) // present at 0 from the start
	}
	return m
}

// Sent counts what one or more frames carried.
func (m *Metrics) Sent(lines, bytes, frames int) {
	if frames == 0 && lines == 0 {
		return
	}
	m.lines.Add(float64(lines))
	m.bytes.Add(float64(bytes))
	m.frames.Add(float64(frames))
}

// SentCompressed counts frames sent compressed and their payload bytes (as
// sent), besides Sent.
func (m *Metrics) SentCompressed(frames, bytes int) {
	m.zframes.Add(float64(frames))
	m.zbytes.Add(float64(bytes))
}

// Refused counts a stream handshake answered with status.
func (m *Metrics) Refused(status int) {
	if c, ok := m.refusedBy[status]; ok {
		c.Inc()
		return
	}
	m.refused.WithLabelValues(strconv.Itoa(status)).Inc()
}

// HeartbeatTimeout counts a stream dropped for a missing pong.
func (m *Metrics) HeartbeatTimeout() { m.heartbeats.Inc() }

// SlowClose counts a stream closed with 1013.
func (m *Metrics) SlowClose() { m.slow.Inc() }

// FileEvent counts a rotation or truncation a follower saw, or a gap.
func (m *Metrics) FileEvent(kind string) {
	if kind == "gap" {
		m.gaps.Inc()
		return
	}
	m.events.WithLabelValues(kind).Inc()
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
