package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
)

// certStore holds the serving key pair; reload swaps it, so that a rotated
// certificate (cert-manager) is taken up on SIGHUP without a restart.
// Handshakes read it through GetCertificate; it is safe for concurrent use.
type certStore struct {
	certFile, keyFile string
	log               *slog.Logger
	cur               atomic.Pointer[tls.Certificate]
}

func newCertStore(certFile, keyFile string, log *slog.Logger) (*certStore, error) {
	cs := &certStore{certFile: certFile, keyFile: keyFile, log: log}
	if err := cs.load(); err != nil {
		return nil, err
	}
	return cs, nil
}

func (cs *certStore) load() error {
	pair, err := tls.LoadX509KeyPair(cs.certFile, cs.keyFile)
	if err != nil {
		return fmt.Errorf("tls key pair: %w", err)
	}
	cs.cur.Store(&pair)
	return nil
}

// reload loads the pair again, keeping the old one when the new one is bad
// (a half-written file during rotation, say). SIGHUP calls it.
func (cs *certStore) reload() error {
	if err := cs.load(); err != nil {
		cs.log.Error("tls reload failed; keeping the current certificate", "cert", cs.certFile, "err", err)
		return err
	}
	cs.log.Info("tls certificate reloaded", "cert", cs.certFile)
	return nil
}

func (cs *certStore) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return cs.cur.Load(), nil
}

func (cs *certStore) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: cs.getCertificate,
		NextProtos:     []string{"http/1.1"}, // WebSocket upgrades need HTTP/1.1
	}
}

// watchHangup reloads the certificate on each SIGHUP until ctx ends; the
// returned function waits for the goroutine. Without TLS, SIGHUP is only
// logged (rather than killing the daemon, its default action).
func (d *Daemon) watchHangup(ctx context.Context) (wait func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if d.certs == nil {
					d.log.Info("SIGHUP: nothing to reload (no --tls-cert)")
					continue
				}
				d.certs.reload()
			}
		}
	})
	return wg.Wait
}
