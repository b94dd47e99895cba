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
	"syscall"
	"time"

	"github.com/logtail/logtail/client"

	"github.com/logtail/logtail/wire"

	"github.com/logtail/logtail/wsconn"
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

	streams := make([]*client.Stream, len(cfg.targets))
	targets := map[*client.Stream]*target{}
	for i, t := range cfg.targets {
		s := &client.Stream{URL: t.url, Lines: cfg.lines, Follow: cfg.follow, Retry: cfg.retry, Grep: cfg.include, Exclude: cfg.exclude,
			Header: cfg.header, TLSConfig: cfg.tls, MaxMessage: cfg.maxMessage, NoCompress: cfg.noCompress,
			OnRetry: func(err error, wait time.Duration) {
				out.note(t, "%s; retrying in %s", describe(err), wait)
			},
			OnReconnect: func() { out.note(t, "connected") },
			OnBehind:    func() { out.note(t, "fell behind; resuming") },
		}
		streams[i], targets[s] = s, t
	}
	errs := client.FollowAll(ctx, streams,
		func(s *client.Stream, m *wire.Message) error { return out.message(targets[s], s.Many(), m) },
		func(s *client.Stream, err error) { out.note(targets[s], "%s", describe(err)) })
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

// excerpt is the start of a message, for an error.
func excerpt(data []byte) string {
	s, more := cut(string(data[:min(len(data), 64)]), 40)
	if more {
		s += "…"
	}
	return s
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
	var bad *client.BadMessageError
	switch {
	case errors.As(err, &bad):
		return fmt.Sprintf("not a format=json message from the daemon (%s): %v", printable(excerpt(bad.Data)), bad.Err)
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
