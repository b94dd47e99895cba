package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// Reconnection pacing: doubling from MinBackoff to MaxBackoff, back to
// MinBackoff after a successful connection.
const (
	MinBackoff  = 100 * time.Millisecond
	MaxBackoff  = 5 * time.Second
	dialTimeout = 10 * time.Second // connect and handshake
)

// A Stream is one URL to follow. Set its fields, then call Run once; Pos may
// be read from the handler meanwhile (Run calls it from its own goroutine).
type Stream struct {
	// URL is ws:// or wss:// and the file's path. Its query is kept (a
	// token, say); the stream's own parameters (lines, tail, format, from,
	// grep, exclude) are set by Run.
	URL *url.URL
	// Lines is how many last lines to start with (when not resuming). With
	// 0, an unfinished last line is not given either, as with tail -n 0.
	Lines int
	// Follow keeps reading new lines (tail=1); without it the stream ends
	// after the last lines.
	Follow bool
	// Retry reconnects after a failure that may pass (a dropped connection,
	// a daemon restarting, a file not there yet), resuming from Pos.
	Retry bool
	// From resumes right after this position (a message's pos) instead of
	// starting with the last lines. Run updates it as messages arrive.
	From string
	// Grep and Exclude, when set, have the daemon send only the lines that
	// match Grep and not Exclude (grep=, exclude=: RE2, matched against a
	// line's text without its ANSI escape sequences), the last Lines too;
	// every reconnection asks again with them. A bad expression is a
	// refusal (*wsconn.HandshakeError, 400, with the parser's message).
	Grep, Exclude string

	Header     http.Header // sent with each handshake (Authorization, say)
	TLSConfig  *tls.Config // for wss://; nil: the system's roots
	MaxMessage int64       // the largest message accepted; 0: wsconn.DefaultMaxMessage
	// NoCompress does not offer permessage-deflate, which is offered
	// otherwise: the daemon then compresses what it sends (a batch at a time).
	NoCompress bool

	// Notes, each optional, called from Run's goroutine.
	OnRetry     func(err error, wait time.Duration) // a failure, tried again after wait
	OnReconnect func()                              // connected again after OnRetry
	OnBehind    func()                              // dropped for falling behind (1013); resuming at once

	mu  sync.Mutex
	pos string
}

// Pos is the position after the last message whose handler returned nil
// (From before the first): a new Stream with From set to it continues
// there. A handler that wants no more after a message cancels Run's context
// and returns nil, so that Pos includes it.
func (s *Stream) Pos() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos == "" {
		return s.From
	}
	return s.pos
}

// BadMessageError: the daemon sent a message that is not format=json.
type BadMessageError struct {
	Data []byte // the start of the message
	Err  error
}

func (e *BadMessageError) Error() string {
	return fmt.Sprintf("not a format=json message from the daemon (%q): %v", e.Data, e.Err)
}
func (e *BadMessageError) Unwrap() error { return e.Err }

// Run follows the stream, calling handle with each message in order, until
// it ends: nil after the last lines when not following, or when ctx is
// cancelled; the error that ended it otherwise (with Retry, only one that
// would come again: a refusal, a protocol error). An error from handle ends
// Run with that error.
func (s *Stream) Run(ctx context.Context, handle func(*wire.Message) error) error {
	backoff := MinBackoff
	retrying := false // OnRetry was called since the last connection
	for {
		c, err := s.dial(ctx)
		if err == nil {
			if retrying && s.OnReconnect != nil {
				s.OnReconnect()
			}
			retrying = false
			backoff = MinBackoff
			err = s.read(ctx, c, handle)
			if err == nil {
				return nil
			}
		}
		var he *handlerError
		if errors.As(err, &he) {
			return he.err
		}
		if ctx.Err() != nil {
			return nil // cancelled: a clean end
		}
		if wsconn.IsClose(err, wsconn.CodeTryAgainLater) {
			// the daemon dropped us for falling behind and asks us to resume
			if s.OnBehind != nil {
				s.OnBehind()
			}
			continue
		}
		if !s.Retry || !Retryable(err) {
			return err
		}
		if s.OnRetry != nil {
			s.OnRetry(err, backoff)
		}
		retrying = true
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, MaxBackoff)
	}
}

// handlerError carries the handler's error out of read untouched.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }

// dial opens the stream, resuming from the last position if there is one.
func (s *Stream) dial(ctx context.Context) (*wsconn.Client, error) {
	u := *s.URL
	q := u.Query()
	wire.Query{Lines: s.Lines, Tail: s.Follow, Format: wire.FormatJSON, Grep: s.Grep, Exclude: s.Exclude}.Set(q)
	if pos := s.Pos(); pos != "" { // opaque: sent back as the daemon gave it
		q.Del("lines")
		q.Set("from", pos)
	}
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return wsconn.Dial(ctx, u.String(), wsconn.DialOptions{Header: s.Header, TLSConfig: s.TLSConfig, MaxMessage: s.MaxMessage,
		Deflate: !s.NoCompress})
}

// read handles the stream's messages until it ends. It returns nil at the
// end of the last lines (1000 without following); ctx's cancellation closes
// the connection, with a close frame, which ends the blocked read at once.
func (s *Stream) read(ctx context.Context, c *wsconn.Client, handle func(*wire.Message) error) (err error) {
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
			if wsconn.IsClose(err, wsconn.CodeNormal) && !s.Follow {
				return nil
			}
			return err
		}
		m, err := wire.Decode(data)
		if err != nil {
			return &BadMessageError{Data: append([]byte(nil), data[:min(len(data), 64)]...), Err: err}
		}
		if s.Lines == 0 {
			m.Partial = "" // tail -n 0 gives nothing, not even an unfinished line
		}
		if err := handle(&m); err != nil {
			return &handlerError{err}
		}
		if m.Pos != "" {
			s.mu.Lock()
			s.pos = m.Pos
			s.mu.Unlock()
		}
	}
}

// Retryable says whether a stream should try again after err: connection
// failures and drops yes; a refusal of the request itself no, except a
// missing file (404), which may appear, as with tail -F.
func Retryable(err error) bool {
	var bad *BadMessageError
	var tooBig *wsconn.TooBigError
	if errors.As(err, &bad) || errors.As(err, &tooBig) || errors.Is(err, wsconn.ErrHandshakeTooLarge) || errors.Is(err, wsconn.ErrInvalidUTF8) {
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
		// 1002, 1007, 1008, 1009: the request or the protocol; retrying repeats it
		return ce.Code != wsconn.CodeProtocolError && ce.Code != wsconn.CodeInvalidData &&
			ce.Code != wsconn.CodeTooBig && ce.Code != wsconn.CodePolicy
	}
	var cert *tls.CertificateVerificationError
	return !errors.As(err, &cert)
}

// FollowAll runs every stream at once and returns when all have ended, with
// each one's error in the order given. handle is called with one message at
// a time (never concurrently), so it may write to one output; an error from
// it stops every stream. ended, when set, is called as each stream ends with
// an error, at once, while the others go on.
func FollowAll(ctx context.Context, streams []*Stream, handle func(*Stream, *wire.Message) error, ended func(*Stream, error)) []error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Go(func() {
			errs[i] = s.Run(ctx, func(m *wire.Message) error {
				mu.Lock()
				defer mu.Unlock()
				if err := handle(s, m); err != nil {
					cancel() // nowhere to put messages: stop every stream
					return &stopAll{err}
				}
				return nil
			})
			var stop *stopAll
			switch {
			case errors.As(errs[i], &stop):
				errs[i] = stop.err
			case errs[i] != nil && ended != nil:
				ended(s, errs[i])
			}
		})
	}
	wg.Wait()
	return errs
}

// stopAll marks the handler's error in FollowAll.
type stopAll struct{ err error }

func (e *stopAll) Error() string { return e.err.Error() }
