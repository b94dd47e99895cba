package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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

// A Stream is one URL to follow. Set its fields, then call Run once; Pos,
// Cursor and Many may be read meanwhile, from the handler too (Run calls it
// from its own goroutine).
//
// The URL may name many files (wire's "Many files"): a directory, or '*' in
// its path (/var/log/app/*.log). Each message then has the file it is about
// in File, and the stream keeps a [wire.Cursor], the position in each file,
// to resume all of them at once: Cursor. A single file's stream keeps a
// position, Pos.
type Stream struct {
	// URL is ws:// or wss:// and the path of a file, a directory or a
	// pattern. Its query is kept (a token, say); the stream's own
	// parameters (lines, tail, format, from, grep, exclude) are set by Run.
	URL *url.URL
	// Lines is how many last lines to start with (when not resuming), of
	// each file in a stream of many. With 0, an unfinished last line is not
	// given either, as with tail -n 0.
	Lines int
	// Follow keeps reading new lines (tail=1); without it the stream ends
	// after the last lines.
	Follow bool
	// Retry reconnects after a failure that may pass (a dropped connection,
	// a daemon restarting, a file not there yet), resuming from Pos (from
	// Cursor in a stream of many files).
	Retry bool
	// From resumes right after this position (a message's pos) instead of
	// starting with the last lines; for a stream of many files, it is a
	// cursor's text (Cursor, "c1.…"). Run does not change it: Pos says
	// where the stream stands.
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
	// Addr, when set, is the host:port to connect to instead of the URL's
	// host (an address a Discovery found); the URL's host is still the Host
	// header and the name the daemon's TLS certificate is checked against.
	Addr string

	// Notes, each optional, called from Run's goroutine.
	OnRetry     func(err error, wait time.Duration) // a failure, tried again after wait
	OnReconnect func()                              // connected again after OnRetry
	OnBehind    func()                              // dropped for falling behind (1013); resuming at once

	mu   sync.Mutex
	pos  string // a single file's: after the last message handled
	many bool   // a stream of many files (a pattern, or said by a message)
	// cursor, in a stream of many files, is where each file stands after
	// the last message handled; nil until the first (or From), when a
	// reconnection starts afresh with the last Lines lines.
	cursor *wire.Cursor
	// what the daemon said of itself: in the latest connection's handshake
	// (name, linesCap), in a message (saidName)
	name, saidName string
	linesCap       int
}

// Name is the daemon's name (logtaild --name, by default its host name: a
// pod's name in Kubernetes), as the latest connection's handshake said it,
// else as a message said it; "" when neither did (an older daemon), or
// before the first connection. Known when the handler gets the first
// message.
func (s *Stream) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.name != "" {
		return s.name
	}
	return s.saidName
}

// LinesCap is, when the latest connection asked for more last lines than
// the daemon gives (its --max-lines), that cap: the lines it sends; 0
// otherwise.
func (s *Stream) LinesCap() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.linesCap
}

// Pos is where a new Stream with From set to it continues: the position
// after the last message whose handler returned nil (From before the
// first); in a stream of many files, the cursor's text (Cursor). A handler
// that wants no more after a message cancels Run's context and returns nil,
// so that Pos includes it.
func (s *Stream) Pos() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.cursor != nil:
		return s.cursor.String()
	case s.pos == "":
		return s.From
	}
	return s.pos
}

// Cursor is, in a stream of many files, the cursor after the last message
// whose handler returned nil (see Pos): the position in each file that
// stream has given, by the path in the messages' File, as from= takes it
// (wire.Cursor's text, "c1.…"). It is "" for a single file's stream, and
// before the first message (unless From was a cursor).
func (s *Stream) Cursor() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cursor == nil {
		return ""
	}
	return s.cursor.String()
}

// Many reports whether the stream is of many files: its URL has '*' in its
// path, From is a cursor, or the daemon said so (a message of lines naming
// its file, a joined or left event: a directory). It is known when the
// handler gets the first message that says so.
func (s *Stream) Many() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.many
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
	if err := s.start(); err != nil {
		return err
	}
	backoff := MinBackoff
	retrying := false // OnRetry was called since the last connection
	for {
		c, err := s.dial(ctx)
		if err == nil {
			s.connected(c.Header())
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

// start reads what the fields say of a stream of many files: a pattern in
// the URL, a cursor in From.
func (s *Stream) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.many = strings.Contains(s.URL.Path, "*") // as the daemon tells a pattern
	if strings.HasPrefix(s.From, wire.CursorPrefix) {
		c, err := wire.ParseCursor(s.From)
		if err != nil {
			return fmt.Errorf("client.Stream.From: %w", err)
		}
		s.many, s.cursor = true, c
	}
	return nil
}

// handlerError carries the handler's error out of read untouched.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }

// dial opens the stream, resuming from the last position if there is one.
func (s *Stream) dial(ctx context.Context) (*wsconn.Client, error) {
	u := *s.URL
	q := u.Query()
	wq := wire.Query{Lines: s.Lines, Tail: s.Follow, Format: wire.FormatJSON, Grep: s.Grep, Exclude: s.Exclude}
	s.mu.Lock()
	wq.Cursor = s.cursor // from=CURSOR, written by Set under the lock
	wq.Set(q)
	pos := s.pos
	if pos == "" {
		pos = s.From
	}
	s.mu.Unlock()
	if wq.Cursor == nil && pos != "" { // opaque: sent back as the daemon gave it
		q.Del("lines")
		q.Set("from", pos)
	}
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return wsconn.Dial(ctx, u.String(), wsconn.DialOptions{Header: s.Header, TLSConfig: s.TLSConfig, MaxMessage: s.MaxMessage,
		Deflate: !s.NoCompress, NetDial: s.netDial()})
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
		s.learn(&m)
		if err := handle(&m); err != nil {
			return &handlerError{err}
		}
		s.handled(&m)
	}
}

// connected notes what the daemon's answer to a handshake says of it.
func (s *Stream) connected(h http.Header) {
	n, _ := strconv.Atoi(h.Get(wire.HeaderMaxLines))
	s.mu.Lock()
	s.name, s.linesCap = h.Get(wire.HeaderName), max(n, 0)
	s.mu.Unlock()
}

// learn notes, before m is handled, that the stream is of many files when m
// says so: only in such a stream do messages of lines name their file, and
// do files join or leave. (A single file's events name a rotated
// generation: they say nothing.)
func (s *Stream) learn(m *wire.Message) {
	if m.Name != "" {
		s.mu.Lock()
		s.saidName = m.Name
		s.mu.Unlock()
	}
	if m.File == "" || !(m.Event == "" || m.Event == wire.EventJoined || m.Event == wire.EventLeft) {
		return
	}
	s.mu.Lock()
	s.many = true
	s.mu.Unlock()
}

// handled moves the stream past m: the position, or in a stream of many
// files the cursor (a file that left is forgotten).
func (s *Stream) handled(m *wire.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.many:
		if m.Pos != "" {
			s.pos = m.Pos
		}
	case s.cursor == nil && m.File == "":
		// nothing to start the cursor with yet: a reconnection starts afresh
	default:
		if s.cursor == nil {
			s.cursor = &wire.Cursor{}
		}
		if m.Event == wire.EventLeft {
			s.cursor.Delete(m.File)
		} else {
			s.cursor.Set(m.File, m.Pos)
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
