package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/wsconn"
)

// loadCACert is the system's roots and the certificates of a PEM bundle
// (--cacert), which must hold at least one.
func loadCACert(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--cacert: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--cacert %s: no PEM certificate in it", file)
	}
	return roots, nil
}

// tlsPortError: a ws:// URL whose server speaks TLS (a daemon with
// --tls-cert, a TLS proxy). It is the user's mistake: retrying cannot help.
type tlsPortError struct{ err error }

func (e *tlsPortError) Error() string { return "the server answered with TLS; use wss://" }
func (e *tlsPortError) Unwrap() error { return e.err }

// tlsProbe finds out, once, whether a ws:// URL's server speaks TLS.
type tlsProbe struct {
	once sync.Once
	tls  bool
}

// tlsTimeout bounds the probe: a TLS server answers a ClientHello at once.
const tlsTimeout = 3 * time.Second

// explain makes err a *tlsPortError when t is ws:// and its server, which
// answered the handshake with something that is not HTTP/1.1 (a TLS
// server's alert, Go's "HTTP/1.0 400" to plain HTTP), completes a TLS
// handshake. Only the handshake is made: no certificate is trusted, nothing
// is sent over it.
func (t *target) explain(ctx context.Context, err error) error {
	if err == nil || t.url.Scheme != "ws" || !notHTTP(err) {
		return err
	}
	t.tls.once.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, tlsTimeout)
		defer cancel()
		d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} // a probe: nothing is sent
		if c, err := d.DialContext(ctx, "tcp", hostPort(t)); err == nil {
			c.Close()
			t.tls.tls = true
		}
	})
	if t.tls.tls {
		return &tlsPortError{err}
	}
	return err
}

// notHTTP reports whether err is none of the failures a WebSocket server or
// the network explains (a refusal, a close, a connection or name error, a
// timeout, a message of ours): the server's answer could not be read as
// HTTP/1.1.
func notHTTP(err error) bool {
	var he *wsconn.HandshakeError
	var ce *wsconn.CloseError
	var tooBig *wsconn.TooBigError
	var bad *client.BadMessageError
	var ne net.Error
	var op *net.OpError
	return !(errors.As(err, &he) || errors.As(err, &ce) || errors.As(err, &tooBig) || errors.As(err, &bad) ||
		errors.As(err, &ne) || errors.As(err, &op) || errors.Is(err, context.Canceled) ||
		errors.Is(err, wsconn.ErrInvalidUTF8) || errors.Is(err, wsconn.ErrHandshakeTooLarge))
}

// hostPort is the address t dials: its host, with the ws port when none.
func hostPort(t *target) string {
	if t.url.Port() != "" {
		return t.url.Host
	}
	return net.JoinHostPort(t.url.Hostname(), "80")
}
