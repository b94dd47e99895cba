package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtail/logtail/metrics"
	"github.com/logtail/logtail/render"
	"github.com/logtail/logtail/sandbox"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/web"
)

// Daemon serves streams, pages and probes for the files under its roots.
type Daemon struct {
	cfg  Config
	name []byte // cfg.Name, for the json streams' first message
	log  *slog.Logger
	box  *sandbox.Sandbox
	hub  *tailer.Hub
	web  *web.Handler   // index, viewer pages and their assets
	wg   sync.WaitGroup // streams in flight
	quit context.Context
	stop context.CancelFunc
	// kill ends when --shutdown-timeout is up: every stream still open is
	// then dropped, even one stuck in a write to a client that never reads.
	kill    context.Context
	killAll context.CancelFunc

	metrics      *metrics.Metrics
	streams      atomic.Int64 // streams admitted (under --max-streams) and not yet ended
	token        tokenCheck   // streams, pages, assets
	metricsToken tokenCheck   // /metrics
	certs        *certStore   // nil without TLS
	hosts        hostPolicy   // which Host headers are answered

	fds      fdBudget   // what the open-file limit allows
	idle     *idleConns // keep-alive connections waiting for a request
	short    *rateLog   // warnings about running out of descriptors
	refusals *rateLog   // refused requests

	filters filterCache // grep=, exclude=: each pair compiled once
}

// New checks the configuration and opens the roots. An --allow-origin
// that is not an origin (CheckOrigin) is an error.
func New(cfg Config) (*Daemon, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var err error
	if cfg.Name, err = DaemonName(cfg.Name); err != nil {
		return nil, err
	}
	origins := make([]string, 0, len(cfg.AllowOrigins))
	for _, o := range cfg.AllowOrigins {
		if strings.TrimSpace(o) == "" {
			continue
		}
		c, err := canonOrigin(o)
		if err != nil {
			return nil, err
		}
		origins = append(origins, c)
	}
	cfg.AllowOrigins = origins
	limit, err := openFileLimit()
	if err != nil {
		return nil, err
	}
	fds := newFDBudget(limit)
	if cfg.MaxStreams, err = maxStreamsFor(cfg.MaxStreams, fds); err != nil {
		return nil, err
	}
	box, err := sandbox.New(cfg.Roots...)
	if err != nil {
		return nil, err
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	if cfg.MaxScanBytes <= 0 {
		cfg.MaxScanBytes = defaultMaxScanBytes
	}
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = defaultMaxFiles
	}
	hosts, err := newHostPolicy(cfg.AllowHosts, cfg.Addr)
	if err != nil {
		box.Close()
		return nil, err
	}
	d := &Daemon{cfg: cfg, name: []byte(cfg.Name), log: cfg.Logger, box: box, hosts: hosts,
		token: newTokenCheck(cfg.Token, true), metricsToken: newTokenCheck(cfg.MetricsToken, false),
		fds: fds, idle: newIdleConns(fds.idle), short: newRateLog(cfg.Logger, slog.LevelWarn, 10*time.Second),
		refusals: newRefusalLog(cfg.Logger)}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		if d.certs, err = newCertStore(cfg.TLSCert, cfg.TLSKey, cfg.Logger); err != nil {
			box.Close()
			return nil, err
		}
	}
	d.metrics = metrics.New(metrics.Sources{
		OpenStreams: func() int { return int(d.streams.Load()) },
		Followers:   func() int { return d.hub.Followers() },
	})
	d.hub = tailer.NewHub(tailer.Config{
		OnEvent: d.metrics.FileEvent,
		Open: func(name string) (*os.File, os.FileInfo, error) {
			f, fi, _, err := box.Open(name)
			return f, fi, err
		},
		Logger:       cfg.Logger,
		PollInterval: cfg.PollInterval,
		Grace:        cfg.Grace,
		MaxLineBytes: cfg.MaxLineBytes,
		QueueBytes:   cfg.ClientQueueBytes,
		CatchUpBytes: int64(cfg.CatchUpBytes),
		MaxWatches:   cfg.MaxWatches,
		NewRenderer:  func() tailer.Renderer { return new(render.Stream) },
	})
	d.web = web.New(web.Config{
		Roots:        box.Roots(),
		Names:        box.Names(),
		MaxEntries:   cfg.IndexMaxEntries,
		Open:         d.checkFile,
		AllowOrigins: cfg.AllowOrigins,
		Version:      cfg.Version,
		// the element's probe (/_logtail/origin) says what a stream would
		OriginAllowed: func(r *http.Request) bool { return d.originAllowed(r) },
	})
	d.quit, d.stop = context.WithCancel(context.Background())
	d.kill, d.killAll = context.WithCancel(context.Background())
	return d, nil
}

// ServeHTTP routes requests. Not http.ServeMux: it cleans paths and redirects
// "/a/../b", and the sandbox must see the path exactly as asked to refuse it.
func (d *Daemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/healthz" && !d.hosts.allow(r.Host) && !notBrowserStream(r) {
		if isWebSocket(r) {
			d.metrics.Refused(http.StatusMisdirectedRequest)
		}
		refuseHost(w, r, d.refusals)
		return
	}
	switch r.URL.Path {
	case "/healthz": // for probes: never needs the token nor a known Host
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	case "/metrics":
		if d.authorize(w, r, d.metricsToken) {
			d.metrics.Handler().ServeHTTP(w, r)
		}
	default:
		if !d.authorize(w, r, d.token) {
			return
		}
		switch {
		case strings.HasPrefix(r.URL.Path, web.Prefix):
			d.page(w, r, func(w http.ResponseWriter) { d.web.Assets(w, r) })
		case r.URL.Path == "/" && !isWebSocket(r):
			d.page(w, r, func(w http.ResponseWriter) { d.web.Index(w, r) })
		default:
			d.handleFile(w, r)
		}
	}
}

// checkFile opens name through the sandbox as a stream would, closes it and
// returns its info: the index lists only what the daemon would serve.
func (d *Daemon) checkFile(name string) (os.FileInfo, error) {
	f, fi, _, err := d.box.Open(name)
	if err != nil {
		return nil, err
	}
	f.Close()
	return fi, nil
}

// Serve serves on ln (with TLS when configured) until ctx ends, then stops
// accepting, closes every stream with 1001 and waits for them, within
// --shutdown-timeout. While it runs, SIGHUP reloads the TLS key pair.
func (d *Daemon) Serve(ctx context.Context, ln net.Listener) error {
	scheme := "http"
	ln = &shortListener{Listener: ln, free: d.idle.closeAll, log: d.short, done: make(chan struct{})}
	if d.certs != nil {
		ln = tls.NewListener(ln, d.certs.tlsConfig())
		scheme = "https"
	}
	if d.cfg.DebugAddr != "" {
		dbg, err := startDebug(d.cfg.DebugAddr, d.log, d.hosts, d.cfg.Args)
		if err != nil {
			return err
		}
		defer dbg.close()
	}
	hupCtx, stopHup := context.WithCancel(ctx)
	waitHup := d.watchHangup(hupCtx)
	defer func() { stopHup(); waitHup() }()
	srv := &http.Server{
		Handler:           d,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       idleTimeout,
		WriteTimeout:      writeTimeout,
		ConnState:         d.idle.state,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	d.log.Info("serving", "addr", ln.Addr().String(), "scheme", scheme, "name", d.cfg.Name, "roots", d.box.Roots(), "version", d.cfg.Version,
		"max_streams", d.cfg.MaxStreams, "open_file_limit", d.fds.limit)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		d.stopStreams()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	d.log.Info("shutting down", "timeout", d.cfg.ShutdownTimeout)
	shutCtx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
	defer cancel()
	// what is on disk now goes to the streams' queues, which they send
	// before 1001: lines written just before the stop reach their clients
	d.hub.Sync(shutCtx)
	d.stop() // streams start closing with 1001 while the server stops accepting
	err := srv.Shutdown(shutCtx)
	<-errc
	// streams are hijacked: Shutdown does not wait for them; those still
	// open when the time is up are dropped
	dropLate := context.AfterFunc(shutCtx, d.killAll)
	d.stopStreams()
	dropLate()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// stopStreams tells every stream to close with 1001 and waits for them.
func (d *Daemon) stopStreams() {
	d.stop()
	d.wg.Wait()
}

// Close stops the followers and releases the roots. The refusals and
// warnings held back by the log's rate limit are logged.
func (d *Daemon) Close() error {
	d.stopStreams()
	d.hub.Close()
	d.refusals.close()
	d.short.close()
	return d.box.Close()
}
