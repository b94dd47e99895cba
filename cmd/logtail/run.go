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
	// stop ends every stream, for a reason (cause) that ends logtail: its
	// stdout closed, a URL that cannot work
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	defer watchOutput(stdout, func() { stop(outputError{errOutputClosed}) })()

	newStream := func(t *target) *client.Stream {
		notes := &retryNotes{note: func(format string, args ...any) { out.note(t, format, args...) }, now: time.Now}
		return &client.Stream{URL: t.url, Lines: t.lines, Follow: t.follow, Retry: cfg.retry, From: t.from, Grep: t.include, Exclude: t.exclude,
			Header: cfg.header, TLSConfig: cfg.tls, MaxMessage: cfg.maxMessage, NoCompress: cfg.noCompress,
			OnRetry: func(err error, wait time.Duration) {
				var tlsPort *tlsPortError
				if err = t.explain(ctx, err); errors.As(err, &tlsPort) {
					stop(&streamError{t.arg, err}) // retrying cannot help
					return
				}
				notes.failed(describe(err), wait)
			},
			OnReconnect: notes.connected,
			OnBehind:    func() { out.note(t, "fell behind; resuming") },
		}
	}
	ended := func(t *target, err error) { out.note(t, "%s", describe(t.explain(ctx, err))) }
	var errs []error
	if cfg.fromLine > 0 { // -n +N
		errs = followFromLines(ctx, cfg.targets, newStream, out.message, ended)
	} else { // every URL, or every address of each (--dns): discover.go
		errs = follow(ctx, cfg, out, newStream,
			func(t *target, s *client.Stream, m *wire.Message) error {
				if limit := s.LinesCap(); limit > 0 && t.capNoted.CompareAndSwap(false, true) {
					out.note(t, "%s: the daemon sends at most %d lines (its --max-lines)", t.linesGiven, limit)
				}
				return out.message(t, s.Many(), m)
			}, ended)
	}
	if err := out.flush(); err != nil {
		return quiet(err)
	}
	var oe outputError
	var se *streamError
	switch cause := context.Cause(ctx); {
	case errors.As(cause, &oe):
		return quiet(oe)
	case errors.As(cause, &se):
		return se
	}
	for i, err := range errs {
		if errors.As(err, &oe) {
			return quiet(oe)
		}
		if err != nil {
			t := cfg.targets[i]
			return reported{&streamError{t.arg, t.explain(ctx, err)}}
		}
	}
	return nil
}

// errOutputClosed: stdout's reader is gone (a "| head" that exited).
var errOutputClosed = fmt.Errorf("stdout closed by its reader: %w", syscall.EPIPE)

// quiet is a failed write to stdout as main shows it: nothing when its
// reader is gone (exit status 141, as tail shows SIGPIPE's end), the error
// otherwise.
func quiet(err error) error {
	if errors.Is(err, syscall.EPIPE) {
		return reported{err}
	}
	return err
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
	var tlsPort *tlsPortError
	switch {
	case errors.As(err, &tlsPort): // before what it wraps (an EOF, say)
		return tlsPort.Error()
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
		return err.Error() + " (--cacert FILE trusts the CA in FILE; --insecure accepts any certificate)"
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
