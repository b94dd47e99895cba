package wsconn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// CloseCode is a WebSocket close code (RFC 6455 section 7.4).
type CloseCode int

// Close codes the daemon sends (RFC 6455 section 7.4.1).
const (
	CodeNormal        CloseCode = 1000
	CodeGoingAway     CloseCode = 1001
	CodeProtocolError CloseCode = 1002
	CodeInvalidData   CloseCode = 1007
	CodePolicy        CloseCode = 1008
	CodeTooBig        CloseCode = 1009
	CodeInternal      CloseCode = 1011
	CodeTryAgainLater CloseCode = 1013
)

// HeaderRoom is the space GetBuffer keeps in front of a message for its frame
// header, so that header and payload go out in one write.
const HeaderRoom = ws.MaxHeaderSize

// sendBuffer is the kernel send buffer of each stream (SO_SNDBUF; the
// kernel doubles it): plenty for a loopback or LAN round trip at full speed.
const sendBuffer = 128 << 10

// Config tunes a server connection.
type Config struct {
	// MaxMessage is the largest message a client may send; larger ones are
	// refused with 1009 without being read. Default 64 KiB.
	MaxMessage int64
	// WriteTimeout bounds every write: a write fails when the peer has taken
	// nothing for between WriteTimeout/2 and WriteTimeout. Default 10s.
	WriteTimeout time.Duration
	// CloseWait is how long a close waits for the peer's close. Default 2s.
	CloseWait time.Duration
	// Notify, when set, is called by the reader after each event it puts in
	// Events: for an owner with no goroutine waiting on it. It must not block.
	Notify func()
	// NoDeflate declines permessage-deflate, which is otherwise accepted
	// when the client offers it (see Conn.Deflate).
	NoDeflate bool
}

func (c Config) withDefaults() Config {
	if c.MaxMessage <= 0 {
		c.MaxMessage = 64 << 10
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.CloseWait <= 0 {
		c.CloseWait = 2 * time.Second
	}
	if c.Notify == nil {
		c.Notify = func() {}
	}
	return c
}

// EventKind says what the reader saw.
type EventKind int

const (
	// Ping: the peer pinged; answer with Pong(Payload).
	Ping EventKind = iota + 1
	// PeerClose: the peer sent a close frame (Code); answer with Close.
	PeerClose
	// Broken: the peer broke the protocol; close with Code and Reason.
	Broken
	// Gone: the connection is gone (read error or EOF); nothing can be sent.
	Gone
)

// Event is something the reader goroutine hands to the writer.
type Event struct {
	Kind    EventKind
	Payload []byte
	Code    CloseCode
	Reason  string
	Err     error
}

// Conn is the server side of one WebSocket connection. It runs one reader
// goroutine; every write (data, ping, pong, close) is made by the one
// goroutine that owns the Conn, which learns what the reader saw from Events.
type Conn struct {
	cfg      Config
	nc       net.Conn
	br       *bufio.Reader
	events   chan Event
	quit     chan struct{} // closed when the owner is done
	readDone chan struct{}
	onPong   func()
	closed   sync.Once
	deadline time.Time // the write deadline set last
	deflate  bool      // permessage-deflate was negotiated
}

// Upgrade completes the handshake of a request the caller has already
// checked (gobwas/ws hijacks before validating, so path and origin checks
// must come first). onPong is called from the reader goroutine for each pong.
// The headers set on w (w.Header()) go with the 101 answer.
func Upgrade(w http.ResponseWriter, r *http.Request, cfg Config, onPong func()) (*Conn, error) {
	nc, rw, deflate, err := upgradeHTTP(w, r, cfg)
	if err != nil {
		if nc != nil {
			nc.Close()
		}
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	// The kernel's send buffer grows to megabytes per connection by itself;
	// our own queue already holds what a client has not taken. A small fixed
	// buffer keeps idle memory per stream low and lets the daemon see a
	// stalled client soon instead of megabytes later.
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetWriteBuffer(sendBuffer)
	}
	if onPong == nil {
		onPong = func() {}
	}
	c := &Conn{
		cfg:      cfg.withDefaults(),
		nc:       nc,
		br:       smallReader(nc, rw.Reader),
		events:   make(chan Event, 1),
		quit:     make(chan struct{}),
		readDone: make(chan struct{}),
		onPong:   onPong,
		deflate:  deflate,
	}
	go c.read()
	return c, nil
}

// readBuffer is the read buffer of a stream: clients send pongs and the odd
// close, so a control frame (at most 131 bytes) is what it must hold at once;
// larger data frames are read past it.
const readBuffer = 256

// smallReader replaces the 4 KiB reader net/http hijacked with (most of an
// idle stream's heap) by a small one, keeping any frames the client sent
// along with its handshake.
func smallReader(nc net.Conn, hijacked *bufio.Reader) *bufio.Reader {
	var r io.Reader = nc
	if n := hijacked.Buffered(); n > 0 {
		early, _ := hijacked.Peek(n)
		r = io.MultiReader(bytes.NewReader(bytes.Clone(early)), nc)
	}
	return bufio.NewReaderSize(r, readBuffer)
}

// Events delivers what the reader saw. After a Gone, PeerClose or Broken
// event the reader has stopped.
func (c *Conn) Events() <-chan Event { return c.events }

// buffers start small: a line sent to 10,000 idle streams at once takes
// 10,000 buffers at once. One that grew under load goes back grown.
var buffers = sync.Pool{New: func() any { b := make([]byte, HeaderRoom, HeaderRoom+4<<10); return &b }}

// GetBuffer gives an empty message from a pool, with room for its frame
// header (HeaderRoom): append the payload and pass it to WriteText. *b is the message. Give it back with
// PutBuffer, after storing the grown slice in *b. (The pool holds pointers,
// so that a round trip allocates nothing.)
func GetBuffer() *[]byte {
	b := buffers.Get().(*[]byte)
	*b = (*b)[:HeaderRoom]
	return b
}

// PutBuffer returns a buffer from GetBuffer to the pool.
func PutBuffer(b *[]byte) {
	if cap(*b) > 1<<20 { // keep the pool's memory bounded
		return
	}
	buffers.Put(b)
}

// WriteText sends msg (from Buffer, payload appended) as one text frame in
// one write.
func (c *Conn) WriteText(msg []byte) error {
	return c.writeFrame(ws.OpText, msg)
}

// Ping sends a ping.
func (c *Conn) Ping() error { return c.control(ws.OpPing, nil) }

// Pong answers a ping with its payload.
func (c *Conn) Pong(payload []byte) error { return c.control(ws.OpPong, payload) }

func (c *Conn) control(op ws.OpCode, payload []byte) error {
	var buf [HeaderRoom + ws.MaxControlFramePayloadSize]byte
	msg := append(buf[:HeaderRoom], payload...)
	return c.writeFrame(op, msg)
}

// writeFrame puts the frame header in the room before the payload and writes
// both at once.
func (c *Conn) writeFrame(op ws.OpCode, msg []byte) error {
	start := putHeader(msg, op, len(msg)-HeaderRoom)
	// The deadline is moved on only when half of it is used up: moving a
	// timer for each frame costs a tenth of the write when one line goes to
	// thousands of streams at once.
	if now := time.Now(); c.deadline.Sub(now) < c.cfg.WriteTimeout/2 {
		c.deadline = now.Add(c.cfg.WriteTimeout)
		c.nc.SetWriteDeadline(c.deadline)
	}
	_, err := c.nc.Write(msg[start:])
	return err
}

// putHeader writes the header of an unmasked final frame of n payload bytes
// into the HeaderRoom bytes before them and returns where it starts
// (RFC 6455 section 5.2; ws.WriteHeader would allocate for each frame).
func putHeader(msg []byte, op ws.OpCode, n int) (start int) {
	switch {
	case n < 126:
		start = HeaderRoom - 2
		msg[start+1] = byte(n)
	case n <= math.MaxUint16:
		start = HeaderRoom - 4
		msg[start+1] = 126
		binary.BigEndian.PutUint16(msg[start+2:], uint16(n))
	default:
		start = HeaderRoom - 10
		msg[start+1] = 127
		binary.BigEndian.PutUint64(msg[start+2:], uint64(n))
	}
	msg[start] = 0x80 | byte(op)
	return start
}

// Close sends a close frame with code and reason, waits a little for the
// peer's close (unless the peer closed first), and closes the connection.
// It waits for the reader goroutine to end.
func (c *Conn) Close(code CloseCode, reason string) error {
	if len(reason) > 120 { // a close frame's payload is at most 125 bytes
		reason = strings.ToValidUTF8(reason[:120], "")
	}
	err := c.control(ws.OpClose, ws.NewCloseFrameBody(ws.StatusCode(code), reason))
	if err == nil {
		wait := time.NewTimer(c.cfg.CloseWait)
	waiting:
		for {
			select {
			case <-c.readDone:
				break waiting
			case <-c.events: // the reader must not block on what is no longer read
			case <-wait.C:
				break waiting
			}
		}
		wait.Stop()
	}
	c.Abort()
	return err
}

// Abort closes the connection without a close frame (the peer is dead) and
// waits for the reader goroutine to end. Unlike the writes, it may be called
// from any goroutine: a write under way then fails at once.
func (c *Conn) Abort() {
	c.closed.Do(func() {
		close(c.quit)
		c.nc.Close()
	})
	<-c.readDone
}

// send hands an event to the owner unless it has gone. Not inlined, so that
// each call does not add an Event to readFrame's frame (see read).
//
//go:noinline
func (c *Conn) send(e Event) {
	select {
	case c.events <- e:
		c.cfg.Notify()
	case <-c.quit:
	}
}

// read is the reader goroutine: it enforces RFC 6455 on what the client
// sends, answers nothing itself, and hands pings and closes to the writer.
//
// It waits for each frame in a shallow call (Peek), so that the thousands of
// readers parked on idle streams fit in the smallest goroutine stack (2 KiB,
// half of what waiting inside readFrame takes); one that grew to read a
// frame is shrunk back by the garbage collector.
func (c *Conn) read() {
	defer close(c.readDone)
	r := reading{state: ws.StateServerSide}
	for {
		if _, err := c.br.Peek(1); err != nil {
			c.gone(err)
			return
		}
		if !c.readFrame(&r) {
			return
		}
	}
}

// gone tells the owner the connection is gone. Not inlined: its Event would
// widen the frame of read, which is on the stack of every parked reader.
//
//go:noinline
func (c *Conn) gone(err error) { c.send(Event{Kind: Gone, Err: err}) }

// reading is the reader's state between frames.
type reading struct {
	state  ws.State
	msg    []byte // the text message being received, to check its UTF-8
	msgLen int64
	isText bool
	// compressed: permessage-deflate, msg holds it as received (text or not)
	compressed bool
}

// readFrame reads one frame; false means the reader is done.
func (c *Conn) readFrame(r *reading) bool {
	h, err := ws.ReadHeader(c.br)
	if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
		c.send(Event{Kind: Broken, Code: CodeProtocolError, Reason: err.Error(), Err: err})
		c.linger(0)
		return false
	}
	if err != nil {
		c.send(Event{Kind: Gone, Err: err})
		return false
	}
	// RSV1 is permessage-deflate's, on the first frame of a data message
	// only; anywhere else, or not negotiated, CheckHeader refuses it
	compressed := c.deflate && h.Rsv1() && h.OpCode.IsData() && h.OpCode != ws.OpContinuation
	if compressed {
		h.Rsv = ws.Rsv(false, h.Rsv2(), h.Rsv3())
	}
	if err := ws.CheckHeader(h, r.state); err != nil {
		c.send(Event{Kind: Broken, Code: CodeProtocolError, Reason: err.Error(), Err: err})
		c.linger(h.Length)
		return false
	}
	if h.OpCode.IsControl() {
		payload, ok := c.payload(h)
		if !ok {
			return false
		}
		switch h.OpCode {
		case ws.OpPing:
			c.send(Event{Kind: Ping, Payload: payload})
		case ws.OpPong:
			c.onPong()
		case ws.OpClose:
			c.send(closeEvent(payload))
			return false
		}
		return true
	}
	// a data frame: clients have nothing to say beyond short commands
	if h.OpCode != ws.OpContinuation {
		r.msg, r.msgLen, r.isText = r.msg[:0], 0, h.OpCode == ws.OpText
		r.compressed = compressed
	}
	// compared before adding: a 63-bit length must not wrap msgLen around
	if h.Length > c.cfg.MaxMessage-r.msgLen {
		c.send(Event{Kind: Broken, Code: CodeTooBig, Reason: "message too big"})
		c.linger(h.Length)
		return false
	}
	r.msgLen += h.Length
	part, ok := c.payload(h)
	if !ok {
		return false
	}
	if r.isText || r.compressed {
		r.msg = append(r.msg, part...)
	}
	if h.Fin {
		r.state = r.state.Clear(ws.StateFragmented)
		if r.compressed {
			if !c.inflated(r) {
				return false
			}
		} else if r.isText && !utf8.Valid(r.msg) {
			c.send(Event{Kind: Broken, Code: CodeInvalidData, Reason: "invalid UTF-8 in text message"})
			c.linger(0)
			return false
		}
		r.msg = nil // a finished message keeps no memory
	} else {
		r.state = r.state.Set(ws.StateFragmented)
	}
	return true
}

// inflated checks a compressed message once inflated: within MaxMessage
// (the compressed bytes counted against it already), and valid UTF-8 if
// text; false when it is not (the owner has been told). Not inlined: it
// must not widen readFrame's frame.
//
//go:noinline
func (c *Conn) inflated(r *reading) bool {
	msg, err := inflateMessage(r.msg, c.cfg.MaxMessage)
	switch {
	case errors.Is(err, errTooLarge):
		c.send(Event{Kind: Broken, Code: CodeTooBig, Reason: "message too big"})
	case err != nil:
		c.send(Event{Kind: Broken, Code: CodeInvalidData, Reason: err.Error()})
	case r.isText && !utf8.Valid(msg):
		c.send(Event{Kind: Broken, Code: CodeInvalidData, Reason: "invalid UTF-8 in text message"})
	default:
		return true
	}
	c.linger(0)
	return false
}

// payload reads and unmasks a frame's payload; false when the connection is
// gone (the owner has been told).
func (c *Conn) payload(h ws.Header) ([]byte, bool) {
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.gone(err)
		return nil, false
	}
	ws.Cipher(p, h.Mask, 0)
	return p, true
}

// linger reads and drops what the peer still sends after it broke the
// protocol (skip bytes of the payload in flight, then whole frames), until its
// close frame, the end of the connection or the owner's Abort: closing a
// socket with unread input resets the connection, and the peer could lose our
// close frame, and with it the reason, before reading it.
func (c *Conn) linger(skip int64) {
	if _, err := io.CopyN(io.Discard, c.br, skip); err != nil {
		return
	}
	for {
		h, err := ws.ReadHeader(c.br)
		if err != nil {
			break
		}
		if h.OpCode == ws.OpClose {
			return
		}
		if _, err := io.CopyN(io.Discard, c.br, h.Length); err != nil {
			return
		}
	}
	io.Copy(io.Discard, c.br) // not frames: until the peer or the owner hangs up
}

// closeEvent checks a close frame's payload: the peer's code is echoed, a
// malformed one, or a code RFC 6455 section 7.4 does not let an endpoint
// send (gobwas/ws passes 5000 and above), is answered with 1002.
func closeEvent(payload []byte) Event {
	if len(payload) == 0 {
		return Event{Kind: PeerClose, Code: CodeNormal}
	}
	if len(payload) == 1 {
		return Event{Kind: Broken, Code: CodeProtocolError, Reason: "malformed close frame"}
	}
	code, reason := ws.ParseCloseFrameData(payload)
	if code >= 5000 {
		return Event{Kind: Broken, Code: CodeProtocolError, Reason: fmt.Sprintf("close code %d is not defined", code)}
	}
	check := code
	if code >= 1012 && code <= 1014 { // registered with IANA (section 11.7), unknown to gobwas/ws
		check = ws.StatusNormalClosure
	}
	if err := ws.CheckCloseFrameData(check, reason); err != nil {
		if errors.Is(err, ws.ErrProtocolInvalidUTF8) {
			return Event{Kind: Broken, Code: CodeInvalidData, Reason: err.Error()}
		}
		return Event{Kind: Broken, Code: CodeProtocolError, Reason: err.Error()}
	}
	return Event{Kind: PeerClose, Code: CloseCode(code)}
}
