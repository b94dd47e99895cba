package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/logtail/logtail/wire"

	"github.com/logtail/logtail/wsconn"
)

// Reconnection pacing for -F: doubling from minBackoff to maxBackoff, back
// to minBackoff after a successful connection.
const (
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 5 * time.Second
	dialTimeout = 10 * time.Second // connect and handshake
)

// run reads every URL at once and returns when all streams have ended, or
// at once when ctx is cancelled (Ctrl-C: a clean end, exit status 0).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseArgs(args, getenv, stdout)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	out := newPrinter(cfg, stdout, stderr)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	errs := make([]error, len(cfg.targets))
	var wg sync.WaitGroup
	for i, t := range cfg.targets {
		wg.Go(func() {
			s := &stream{cfg: cfg, t: t, out: out}
			errs[i] = s.run(ctx)
			if errs[i] == nil {
				return
			}
			var oe outputError
			if errors.As(errs[i], &oe) {
				cancel() // nowhere to write: stop every stream
				return
			}
			out.note(t, "%s", describe(errs[i]))
		})
	}
	wg.Wait()
	if err := out.flush(); err != nil {
		return err
	}
	for i, err := range errs {
		var oe outputError
		if errors.As(err, &oe) {
			return oe
		}
		if err != nil {
			return reported{&streamError{cfg.targets[i].arg, err}}
		}
	}
	return nil
}

// streamError is a stream's end, named by its URL.
type streamError struct {
	arg string
	err error
}

func (e *streamError) Error() string { return e.arg + ": " + describe(e.err) }
func (e *streamError) Unwrap() error { return e.err }

// stream reads one URL, reconnecting as the flags allow, and remembers the
// position after the last line printed so a new connection resumes there.
type stream struct {
	cfg *config
	t   *target
	out *printer
	pos string // the daemon's position after the last message; "" before the first
}

// finalError ends a stream even with -F.
type finalError struct{ err error }

func (e finalError) Error() string { return e.err.Error() }
func (e finalError) Unwrap() error { return e.err }

func (s *stream) run(ctx context.Context) error {
	backoff := minBackoff
	retrying := false // a retry note was shown since the last connection
	for {
		c, err := s.dial(ctx)
		if err == nil {
			if retrying {
				s.out.note(s.t, "connected")
				retrying = false
			}
			backoff = minBackoff
			err = s.read(ctx, c)
			if err == nil {
				return nil
			}
		}
		if ctx.Err() != nil {
			return nil // Ctrl-C: a clean end
		}
		var oe outputError
		if errors.As(err, &oe) {
			return err
		}
		if wsconn.IsClose(err, wsconn.CodeTryAgainLater) {
			// the daemon dropped us for falling behind and asks us to resume
			s.out.note(s.t, "fell behind; resuming")
			continue
		}
		if !s.cfg.retry || !retryable(err) {
			return err
		}
		s.out.note(s.t, "%s; retrying in %s", describe(err), backoff)
		retrying = true
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// dial opens the stream, resuming from the last position if there is one.
func (s *stream) dial(ctx context.Context) (*wsconn.Client, error) {
	u := *s.t.url
	q := u.Query()
	wire.Query{Lines: s.cfg.lines, Tail: s.cfg.follow, Format: wire.FormatJSON}.Set(q)
	if s.pos != "" { // opaque: sent back as the daemon gave it
		q.Del("lines")
		q.Set("from", s.pos)
	}
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return wsconn.Dial(ctx, u.String(), wsconn.DialOptions{Header: s.cfg.header, TLSConfig: s.cfg.tls, MaxMessage: s.cfg.maxMessage})
}

// read prints the stream's messages until it ends. It returns nil at the end
// of the last lines (1000 without following); ctx's cancellation closes the
// connection, with a close frame, which ends the blocked read at once.
func (s *stream) read(ctx context.Context, c *wsconn.Client) (err error) {
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.Close()
		close(closed)
	})
	defer func() {
		if !stop() {
			<-closed // the AfterFunc closes it: wait for its goroutine
			return
		}
		var ce *wsconn.CloseError
		if errors.As(err, &ce) {
			c.Conn().Close() // the close handshake is done
		} else {
			c.Close()
		}
	}()
	for {
		data, err := c.Next()
		if err != nil {
			if wsconn.IsClose(err, wsconn.CodeNormal) && !s.cfg.follow {
				return nil
			}
			return err
		}
		m, err := wire.Decode(data)
		if err != nil {
			return finalError{fmt.Errorf("not a format=json message from the daemon (%s): %w", printable(excerpt(data)), err)}
		}
		if s.cfg.lines == 0 {
			m.Partial = "" // tail -n 0 prints nothing, not even an unfinished line
		}
		if err := s.out.message(s.t, &m); err != nil {
			return err
		}
		if m.Pos != "" {
			s.pos = m.Pos
		}
	}
}

// excerpt is the start of a message, for an error.
func excerpt(data []byte) string {
	s, more := cut(string(data[:min(len(data), 64)]), 40)
	if more {
		s += "…"
	}
	return s
}

// retryable says whether -F should try again after err: connection
// failures and drops yes; a refusal of the request itself no, except a
// missing file (404), which may appear, as with tail -F.
func retryable(err error) bool {
	var fe finalError
	var tooBig *wsconn.TooBigError
	if errors.As(err, &fe) || errors.As(err, &tooBig) || errors.Is(err, wsconn.ErrHandshakeTooLarge) || errors.Is(err, wsconn.ErrInvalidUTF8) {
		return false // the daemon would send the same again
	}
	var he *wsconn.HandshakeError
	if errors.As(err, &he) {
		switch {
		case he.Status == 404, he.Status == 408, he.Status == 429:
			return true
		case he.Status >= 400 && he.Status < 500:
			return false
		}
		return true
	}
	var ce *wsconn.CloseError
	if errors.As(err, &ce) {
		// 1002, 1007, 1009: we broke the protocol; retrying repeats it
		return ce.Code != wsconn.CodeProtocolError && ce.Code != wsconn.CodeInvalidData &&
			ce.Code != wsconn.CodeTooBig && ce.Code != wsconn.CodePolicy
	}
	var cert *tls.CertificateVerificationError
	return !errors.As(err, &cert)
}

// describe says briefly what went wrong, in the user's terms.
func describe(err error) string {
	var se *streamError
	if errors.As(err, &se) {
		err = se.err
	}
	var he *wsconn.HandshakeError
	var ce *wsconn.CloseError
	var tooBig *wsconn.TooBigError
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &he):
		s := strconv.Itoa(he.Status)
		if text := http.StatusText(he.Status); text != "" {
			s += " " + text
		}
		if he.Reason != "" {
			s += ": " + printable(he.Reason)
		}
		return s
	case errors.As(err, &ce):
		return closeText(ce)
	case errors.As(err, &tooBig):
		return fmt.Sprintf("a message from the daemon is larger than --max-message-bytes (%d bytes); closed with %d", tooBig.Limit, wsconn.CodeTooBig)
	case errors.Is(err, wsconn.ErrHandshakeTooLarge):
		return fmt.Sprintf("the daemon's handshake answer is larger than %d bytes", wsconn.MaxHandshake)
	case errors.Is(err, wsconn.ErrInvalidUTF8):
		return fmt.Sprintf("a message from the daemon is not valid UTF-8; closed with %d", wsconn.CodeInvalidData)
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return "unknown host " + dns.Name
		}
		return "cannot resolve " + dns.Name + ": " + dns.Err
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &cert):
		return err.Error() + " (--insecure accepts any certificate)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection lost"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timed out"
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closeText explains a close code the daemon sent.
func closeText(ce *wsconn.CloseError) string {
	var s string
	switch ce.Code {
	case wsconn.CodeNormal:
		s = "the daemon ended the stream (1000)"
	case wsconn.CodeGoingAway:
		s = "the daemon is shutting down (1001)"
	case wsconn.CodeInternal:
		s = "the daemon could not read the file (1011)"
	case wsconn.CodeTryAgainLater:
		s = "fell too far behind (1013)"
	default:
		s = fmt.Sprintf("closed by the daemon with %d", ce.Code)
	}
	if ce.Reason != "" && ce.Code != wsconn.CodeNormal && ce.Code != wsconn.CodeGoingAway {
		s += ": " + printable(ce.Reason) // the explained codes' reasons only repeat the explanation
	}
	return s
}
