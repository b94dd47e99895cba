package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"time"
)

// debugServer serves Go's profiles (net/http/pprof) on --debug-addr, apart
// from the streams: for an operator chasing memory or CPU, never on by default.
type debugServer struct {
	srv      *http.Server
	addr     string // where it listens
	done     chan struct{}
	refusals *rateLog
}

// It answers only the Host names the daemon answers (DNS rebinding), and the
// command line it shows (cmdline, the process's) has the tokens' values taken
// out.
func startDebug(addr string, log *slog.Logger, hosts hostPolicy, cmdline []string) (*debugServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, strings.Join(redactArgs(cmdline), "\x00"))
	})
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	refusals := newRefusalLog(log)
	d := &debugServer{
		srv: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !hosts.allow(r.Host) {
				refuseHost(w, r, refusals)
				return
			}
			mux.ServeHTTP(w, r)
		}), ReadHeaderTimeout: 10 * time.Second},
		addr:     ln.Addr().String(),
		done:     make(chan struct{}),
		refusals: refusals,
	}
	log.Info("serving profiles", "addr", ln.Addr().String(), "path", "/debug/pprof/")
	go func() {
		defer close(d.done)
		if err := d.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("debug server stopped", "err", err)
		}
	}()
	return d, nil
}

// close stops the debug server and waits for it.
func (d *debugServer) close() {
	d.srv.Close()
	<-d.done
	d.refusals.close()
}

// secretFlags are the flags whose values never leave the process.
var secretFlags = []string{"token", "metrics-token"}

// redactArgs is args with the values of secretFlags replaced, in every form
// the flag package takes: -token V, --token V, -token=V, --token=V.
func redactArgs(args []string) []string {
	out := slices.Clone(args)
	for i := 1; i < len(out); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(out[i], "-"), "=")
		if !strings.HasPrefix(out[i], "-") || !slices.Contains(secretFlags, name) {
			continue
		}
		if hasValue {
			out[i] = out[i][:len(out[i])-len(value)] + "REDACTED"
		} else if i+1 < len(out) {
			i++
			out[i] = "REDACTED"
		}
	}
	return out
}
