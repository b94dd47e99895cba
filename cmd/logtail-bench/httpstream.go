package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Streams over plain HTTP: logtaild's chunked text/plain (format=text) and
// Server-Sent Events (Accept: text/event-stream). net/http undoes the
// chunking; httpStream hands the body on in whole lines, so that no line
// (nor an SSE data line, one json message) is cut between two messages.
const (
	protoWS   = "ws"   // WebSocket (the default)
	protoText = "text" // chunked text/plain
	protoSSE  = "sse"  // text/event-stream
)

// httpStream is one streaming response. next returns the body's bytes up to
// the last '\n' read so far (whole lines; an SSE event's lines each end in
// '\n' too); a partial line waits in buf[r:w]. The result aliases buf until
// the next call.
type httpStream struct {
	body io.ReadCloser
	buf  []byte
	r, w int
	wire atomic.Int64 // bytes read from the socket after the response head
}

// dialHTTP GETs http://addr+target with Accept set to accept (none if ""),
// and wants a 200.
func dialHTTP(ctx context.Context, addr, target, accept string, bufSize int) (*httpStream, error) {
	s := &httpStream{buf: make([]byte, max(bufSize, 4096))}
	tr := &http.Transport{
		DisableCompression:    true,
		ResponseHeaderTimeout: 30 * time.Second,
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, a)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: nc, n: &s.wire}, nil
		},
	}
	// the stream outlives ctx's deadline; close ends it
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), "GET", "http://"+addr+target, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s %s", target, resp.Status, bytes.TrimSpace(b))
	}
	s.wire.Store(0) // the body's bytes from here, chunk headers included
	s.body = resp.Body
	return s, nil
}

func (s *httpStream) next() ([]byte, error) {
	for {
		if s.r > 0 { // the caller is done with the last message: keep only the partial line
			s.w = copy(s.buf, s.buf[s.r:s.w])
			s.r = 0
		}
		if s.w == len(s.buf) { // a line longer than the buffer: grow
			nb := make([]byte, 2*len(s.buf))
			copy(nb, s.buf[:s.w])
			s.buf = nb
		}
		start := s.w
		n, err := s.body.Read(s.buf[s.w:])
		s.w += n
		if i := bytes.LastIndexByte(s.buf[start:s.w], '\n'); i >= 0 {
			s.r = start + i + 1
			return s.buf[:s.r], nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

func (s *httpStream) close() error { return s.body.Close() }

func (s *httpStream) wireBytes() int64 { return s.wire.Load() }

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}
