package main

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opCont  = 0x0
	opText  = 0x1
	opBin   = 0x2
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// closeError is the server's close frame.
type closeError struct{ code int }

func (e closeError) Error() string { return "closed with " + strconv.Itoa(e.code) }

// wsConn is the client side of a WebSocket on a raw net.Conn. Frames are
// parsed in place in one reused buffer: a payload returned by next aliases
// the buffer until the following call. next is called by one goroutine;
// writes (pongs from next, messages from a keep-alive goroutine) are
// serialised by wmu.
type wsConn struct {
	nc   net.Conn
	buf  []byte
	r, w int

	wmu  sync.Mutex
	wbuf []byte

	// wire counts the bytes read from the socket after the handshake's
	// response head (frames and their headers, as they came).
	wire atomic.Int64

	// permessage-deflate (RFC 7692), when offered and accepted: each
	// message with RSV1 set is inflated on its own (no context takeover).
	deflate bool
	infl    inflater
	comp    bool   // a compressed message is being gathered from fragments
	frag    []byte // its payload so far
}

// dialWS opens ws://addr+target (target is the request path and query).
// bufSize is the initial read buffer; it grows to the largest frame seen.
func dialWS(ctx context.Context, addr, target string, bufSize int) (*wsConn, error) {
	return dialWSExt(ctx, addr, target, bufSize, false)
}

// deflateOffer is the permessage-deflate offer: no context takeover either
// way, so that every message inflates on its own.
const deflateOffer = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"

// dialWSExt is dialWS, offering permessage-deflate when deflate is set; the
// server must then accept it.
func dialWSExt(ctx context.Context, addr, target string, bufSize int, deflate bool) (*wsConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c := &wsConn{nc: nc, buf: make([]byte, max(bufSize, 1024)), wbuf: make([]byte, 0, 256)}
	if err := c.handshake(ctx, addr, target, deflate); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *wsConn) handshake(ctx context.Context, addr, target string, deflate bool) error {
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.nc.SetDeadline(deadline)
	defer c.nc.SetDeadline(time.Time{})

	var raw [16]byte
	rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	req := "GET " + target + " HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n"
	if deflate {
		req += "Sec-WebSocket-Extensions: " + deflateOffer + "\r\n"
	}
	req += "\r\n"
	if _, err := io.WriteString(c.nc, req); err != nil {
		return fmt.Errorf("handshake %s: %w", target, err)
	}
	// Read the response head; bytes after it are frames and stay in buf.
	for {
		if end := bytes.Index(c.buf[:c.w], []byte("\r\n\r\n")); end >= 0 {
			head := c.buf[:end]
			c.r = end + 4
			status, _, _ := bytes.Cut(head, []byte("\r\n"))
			if !bytes.HasPrefix(status, []byte("HTTP/1.1 101")) {
				body := c.buf[c.r:c.w]
				return fmt.Errorf("handshake %s: %s %s", target, status, bytes.TrimSpace(body))
			}
			sum := sha1.Sum([]byte(key + wsGUID))
			if !bytes.Contains(bytes.ToLower(head), bytes.ToLower([]byte(base64.StdEncoding.EncodeToString(sum[:])))) {
				return fmt.Errorf("handshake %s: bad Sec-WebSocket-Accept", target)
			}
			if deflate {
				if !acceptsDeflate(head) {
					return fmt.Errorf("handshake %s: permessage-deflate offered, not accepted", target)
				}
				c.deflate = true
			}
			c.wire.Store(int64(c.w - c.r))
			return nil
		}
		if c.w == len(c.buf) {
			return fmt.Errorf("handshake %s: response head over %d bytes", target, len(c.buf))
		}
		n, err := c.nc.Read(c.buf[c.w:])
		c.w += n
		if err != nil {
			return fmt.Errorf("handshake %s: %w", target, err)
		}
	}
}

// fill makes at least n unread bytes available in buf[r:w].
func (c *wsConn) fill(n int) error {
	for c.w-c.r < n {
		if len(c.buf)-c.r < n { // not enough room after r: move to the front, grow if still short
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
			if n > len(c.buf) {
				nb := make([]byte, max(n, 2*len(c.buf)))
				copy(nb, c.buf[:c.w])
				c.buf = nb
			}
		}
		m, err := c.nc.Read(c.buf[c.w:])
		c.w += m
		c.wire.Add(int64(m))
		if err != nil && c.w-c.r < n {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// next returns the payload of the next data frame (text, binary or
// continuation), or with permessage-deflate the inflated payload of the next
// compressed message (RSV1 set on its first frame; its fragments are
// gathered first). Pings are answered with pongs on the way; a close frame
// is answered and returned as closeError.
func (c *wsConn) next() ([]byte, error) {
	for {
		if err := c.fill(2); err != nil {
			return nil, err
		}
		b0, b1 := c.buf[c.r], c.buf[c.r+1]
		if b1&0x80 != 0 {
			return nil, errors.New("server sent a masked frame")
		}
		n, hl := int(b1&0x7f), 2
		switch n {
		case 126:
			hl = 4
		case 127:
			hl = 10
		}
		if err := c.fill(hl); err != nil {
			return nil, err
		}
		switch hl {
		case 4:
			n = int(binary.BigEndian.Uint16(c.buf[c.r+2:]))
		case 10:
			n = int(binary.BigEndian.Uint64(c.buf[c.r+2:]))
			if n < 0 || n > 1<<30 {
				return nil, fmt.Errorf("frame of %d bytes", n)
			}
		}
		if err := c.fill(hl + n); err != nil {
			return nil, err
		}
		p := c.buf[c.r+hl : c.r+hl+n]
		c.r += hl + n
		fin, rsv1 := b0&0x80 != 0, b0&0x40 != 0
		switch op := b0 & 0x0f; op {
		case opText, opBin, opCont:
			if rsv1 && (!c.deflate || op == opCont) {
				return nil, fmt.Errorf("RSV1 set on a %#x frame without permessage-deflate", op)
			}
			if op != opCont {
				c.comp = rsv1
				c.frag = c.frag[:0]
			}
			if !c.comp {
				return p, nil
			}
			if !fin || len(c.frag) > 0 {
				c.frag = append(c.frag, p...)
				if !fin {
					continue
				}
				p = c.frag
			}
			c.comp = false
			out, err := c.infl.inflate(p)
			if err != nil {
				return nil, fmt.Errorf("inflate: %w", err)
			}
			return out, nil
		case opPing:
			if err := c.write(opPong, p); err != nil {
				return nil, fmt.Errorf("pong: %w", err)
			}
		case opClose:
			code := 1005
			if len(p) >= 2 {
				code = int(binary.BigEndian.Uint16(p))
			}
			_ = c.write(opClose, p[:min(len(p), 2)])
			return nil, closeError{code}
		case opPong:
		default:
			return nil, fmt.Errorf("unknown opcode %#x", op)
		}
	}
}

// write sends one masked client frame (payloads under 64 KiB).
func (c *wsConn) write(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := append(c.wbuf[:0], 0x80|op)
	if len(p) < 126 {
		b = append(b, 0x80|byte(len(p)))
	} else {
		b = append(b, 0x80|126, byte(len(p)>>8), byte(len(p)))
	}
	mask := [4]byte{0x5a, 0xa5, 0x3c, 0xc3}
	b = append(b, mask[:]...)
	for i, x := range p {
		b = append(b, x^mask[i&3])
	}
	c.wbuf = b
	_, err := c.nc.Write(b)
	return err
}

func (c *wsConn) close() error { return c.nc.Close() }

// wireBytes is how many bytes came from the socket after the handshake.
func (c *wsConn) wireBytes() int64 { return c.wire.Load() }

// acceptsDeflate says whether a handshake response head accepts
// permessage-deflate.
func acceptsDeflate(head []byte) bool {
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("Sec-WebSocket-Extensions")) &&
			bytes.Contains(bytes.ToLower(v), []byte("permessage-deflate")) {
			return true
		}
	}
	return false
}

// inflater inflates permessage-deflate messages compressed with no context
// takeover, into one reused buffer: the result aliases it until the next
// call.
type inflater struct {
	fr  io.ReadCloser // flate's reader, Reset for each message
	src bytes.Reader
	in  []byte // the message and its tail
	out []byte
}

// deflateTail ends a message's compressed bytes: RFC 7692 §7.2.2's
// 0x00 0x00 0xff 0xff (the empty stored block the sender took off), then a
// final empty stored block so that flate's reader ends with io.EOF rather
// than io.ErrUnexpectedEOF, and a cut message is still an error.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

func (f *inflater) inflate(p []byte) ([]byte, error) {
	f.in = append(append(f.in[:0], p...), deflateTail...)
	f.src.Reset(f.in)
	if f.fr == nil {
		f.fr = flate.NewReader(&f.src)
	} else if err := f.fr.(flate.Resetter).Reset(&f.src, nil); err != nil {
		return nil, err
	}
	if cap(f.out) == 0 {
		f.out = make([]byte, 0, 64<<10)
	}
	out := f.out[:0]
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := f.fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			f.out = out
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// noopServer is a WebSocket server that answers every handshake and sends a
// fixed, pre-framed buffer as fast as the socket takes it, then closes with
// 1000: the ceiling of what a client can read.
type noopServer struct {
	ln     net.Listener
	frames []byte
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

// frameLines cuts lines (each ending in '\n') into unmasked text frames of
// about 32 KiB of whole lines, as logtaild sends them under load.
func frameLines(lines []byte) []byte {
	out := make([]byte, 0, len(lines)+len(lines)/4096+64)
	for len(lines) > 0 {
		n := min(len(lines), 32<<10)
		if i := bytes.LastIndexByte(lines[:n], '\n'); i >= 0 && n < len(lines) {
			n = i + 1
		}
		out = appendFrameHeader(out, opText, n)
		out = append(out, lines[:n]...)
		lines = lines[n:]
	}
	return out
}

func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n < 1<<16:
		return append(b, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

func startNoop(frames []byte) (*noopServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("noop server: %w", err)
	}
	s := &noopServer{ln: ln, frames: frames, conns: map[net.Conn]struct{}{}}
	s.wg.Go(s.accept)
	return s, nil
}

func (s *noopServer) addr() string { return s.ln.Addr().String() }

func (s *noopServer) accept() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, nc)
				s.mu.Unlock()
				nc.Close()
			}()
			s.serve(nc)
		})
	}
}

func (s *noopServer) serve(nc net.Conn) {
	if err := answerHandshake(nc); err != nil {
		return
	}
	if _, err := nc.Write(s.frames); err != nil {
		return
	}
	nc.Write([]byte{0x80 | opClose, 2, 0x03, 0xe8})
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, nc) // until the client closes
}

// answerHandshake reads a WebSocket handshake request from nc and accepts it.
func answerHandshake(nc net.Conn) error {
	buf := make([]byte, 4096)
	n := 0
	for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		if n == len(buf) {
			return errors.New("handshake request too long")
		}
		m, err := nc.Read(buf[n:])
		n += m
		if err != nil {
			return err
		}
	}
	var key []byte
	for _, line := range bytes.Split(buf[:n], []byte("\r\n")) {
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Sec-WebSocket-Key")) {
			key = bytes.TrimSpace(v)
		}
	}
	sum := sha1.Sum(append(key, wsGUID...))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	_, err := io.WriteString(nc, resp)
	return err
}

// close stops accepting, drops open connections and waits for every goroutine.
func (s *noopServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
