package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/logtail/logtail/sandbox"
	"github.com/logtail/logtail/tailer"
	"github.com/logtail/logtail/web"
)

// run is main without the process: flags and environment in, error out.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	d, err := New(cfg)
	if err != nil {
		return usageError{err}
	}
	defer d.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return d.Serve(ctx, ln)
}

// Daemon serves streams, pages and probes for the files under its roots.
type Daemon struct {
	cfg  Config
	log  *slog.Logger
	box  *sandbox.Sandbox
	hub  *tailer.Hub
	web  *web.Handler   // index, viewer pages and their assets
	wg   sync.WaitGroup // streams in flight
	quit context.Context
	stop context.CancelFunc
}

// New checks the configuration and opens the roots.
func New(cfg Config) (*Daemon, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	box, err := sandbox.New(cfg.Roots...)
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger, box: box}
	d.hub = tailer.NewHub(tailer.Config{
		Open: func(name string) (*os.File, os.FileInfo, error) {
			f, fi, _, err := box.Open(name)
			return f, fi, err
		},
		Logger:       cfg.Logger,
		PollInterval: cfg.PollInterval,
		Grace:        cfg.Grace,
		MaxLineBytes: cfg.MaxLineBytes,
		QueueBytes:   cfg.ClientQueueBytes,
	})
	d.web = web.New(web.Config{
		Roots:        box.Roots(),
		Open:         d.checkFile,
		AllowOrigins: cfg.AllowOrigins,
		Version:      versionString(),
	})
	d.quit, d.stop = context.WithCancel(context.Background())
	return d, nil
}

// ServeHTTP routes requests. Not http.ServeMux: it cleans paths and redirects
// "/a/../b", and the sandbox must see the path exactly as asked to refuse it.
func (d *Daemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	default:
		switch {
		case strings.HasPrefix(r.URL.Path, web.Prefix):
			d.web.Assets(w, r)
		case r.URL.Path == "/" && !isWebSocket(r):
			d.web.Index(w, r)
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

// Serve serves on ln until ctx ends, then closes every stream with 1001 and
// waits for them.
func (d *Daemon) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           d,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	d.log.Info("serving", "addr", ln.Addr().String(), "roots", d.box.Roots(), "version", versionString())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		d.stopStreams()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	d.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutCtx) // stops accepting; streams are hijacked, so:
	d.stopStreams()
	<-errc
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

// Close stops the followers and releases the roots.
func (d *Daemon) Close() error {
	d.stopStreams()
	d.hub.Close()
	return d.box.Close()
}
