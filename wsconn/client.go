package wsconn

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
)

// HandshakeError is a refused handshake: the server's HTTP status and the
// reason it gave in the body.
type HandshakeError struct {
	Status int
	Reason string
	Header http.Header // the answer's headers
}

func (e *HandshakeError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Reason)
}

// CloseError is how the server ended the stream.
type CloseError struct {
	Code   CloseCode
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("closed with %d", e.Code)
	}
	return fmt.Sprintf("closed with %d: %s", e.Code, e.Reason)
}

// DefaultMaxMessage is the largest message a Client reads unless told
// otherwise: well above the daemon's largest (a frame of about 32 KiB, or one
// line of its --max-line-bytes, 1 MiB by default, which JSON escaping can make
// six times larger).
const DefaultMaxMessage = 16 << 20

// MaxHandshake bounds the server's answer to the handshake, status line and
// headers (a refusal's body is read up to 4 KiB besides).
const MaxHandshake = 1 << 20

// ErrHandshakeTooLarge is a handshake answer over 1 MiB, which no WebSocket
// server sends.
var ErrHandshakeTooLarge = fmt.Errorf("handshake answer larger than %d bytes", MaxHandshake)

// ErrInvalidUTF8 is a text message that is not valid UTF-8, closed with 1007.
var ErrInvalidUTF8 = wsutil.ErrInvalidUTF8

// TooBigError is a message over DialOptions.MaxMessage, refused with 1009.
type TooBigError struct{ Limit int64 }

func (e *TooBigError) Error() string {
	return fmt.Sprintf("message larger than %d bytes", e.Limit)
}

// DialOptions tune Dial.
type DialOptions struct {
	Header    http.Header // extra request headers (Authorization, Origin)
	TLSConfig *tls.Config
	// NetDial, when set, makes the TCP connection (e.g. to set socket options).
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxMessage bounds a message, all its fragments together: a larger one
	// is closed with 1009 and Next returns a *TooBigError. 0 means
	// DefaultMaxMessage, a negative value no limit. A compressed message
	// is bounded both as received and once inflated.
	MaxMessage int64
	// Deflate offers permessage-deflate (RFC 7692, no context takeover):
	// the server may then send compressed messages, which Next inflates.
	Deflate bool
}

// Client is the client side of a stream. It is read by one goroutine;
// Close may be called from another, to end a blocked Next.
type Client struct {
	nc         net.Conn
	r          *wsutil.Reader
	maxMessage int64       // < 0: no limit
	closeSent  atomic.Bool // a close frame went out: no other frame may follow

	header http.Header // the handshake answer's, but for the WebSocket ones

	// permessage-deflate, when negotiated
	deflate  bool
	zstate   wsflate.MessageState // whether the message being read is compressed
	inflater *inflater
}

// Dial opens a WebSocket to url (ws:// or wss://). A refused handshake is a
// *HandshakeError carrying the server's status and reason.
func Dial(ctx context.Context, url string, opt DialOptions) (*Client, error) {
	var status int
	var body []byte
	var header http.Header
	netDial := opt.NetDial
	if netDial == nil {
		var nd net.Dialer
		netDial = nd.DialContext
	}
	// gobwas/ws reads the answer's lines whole, however long: the bytes read
	// until the handshake is done are bounded below it
	var hc *handshakeConn
	d := ws.Dialer{
		Header:    ws.HandshakeHeaderHTTP(opt.Header),
		TLSConfig: opt.TLSConfig,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := netDial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			hc = &handshakeConn{Conn: nc, left: MaxHandshake}
			return hc, nil
		},
		OnStatusError: func(st int, _ []byte, resp io.Reader) {
			status = st
			if r, err := http.ReadResponse(bufio.NewReader(resp), nil); err == nil {
				header = r.Header
				body, _ = io.ReadAll(io.LimitReader(r.Body, 4096))
				r.Body.Close()
			}
		},
		OnHeader: func(key, value []byte) error {
			if header == nil {
				header = make(http.Header)
			}
			header.Add(string(key), string(value))
			return nil
		},
	}
	if opt.Deflate {
		d.Extensions = deflateOffer()
	}
	nc, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		if status != 0 {
			return nil, &HandshakeError{Status: status, Reason: trimReason(body), Header: header}
		}
		return nil, err
	}
	deflate, err := acceptedDeflate(hs.Extensions)
	if err != nil {
		nc.Close()
		return nil, err
	}
	hc.done = true
	var src io.Reader = nc
	if br != nil { // frames that came with the handshake: losing them loses lines
		src = io.MultiReader(br, nc)
	}
	if header == nil {
		header = make(http.Header)
	}
	c := &Client{nc: nc, maxMessage: opt.MaxMessage, header: header}
	if c.maxMessage == 0 {
		c.maxMessage = DefaultMaxMessage
	}
	c.r = &wsutil.Reader{Source: src, State: ws.StateClientSide, CheckUTF8: true,
		OnIntermediate: c.intermediate}
	if deflate {
		c.useDeflate()
	}
	return c, nil
}

// handshakeConn bounds what is read of a connection until the handshake
// is done. Dial's goroutine alone reads it, and sets done.
type handshakeConn struct {
	net.Conn
	left int64 // bytes the handshake may still read
	done bool
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	if c.done {
		return c.Conn.Read(p)
	}
	if c.left <= 0 {
		return 0, ErrHandshakeTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= int64(n)
	return n, err
}

// Next returns the payload of the next data message. Pings are answered on
// the way. At the end of the stream it returns a *CloseError
// with the server's code, or the read error. A message over MaxMessage, a
// message that is not valid UTF-8 and a frame that breaks the protocol are
// closed with 1009, 1007 and 1002.
func (c *Client) Next() ([]byte, error) {
	data, err := c.next()
	if err != nil {
		var tooBig *TooBigError
		var pe ws.ProtocolError
		switch {
		case errors.As(err, &tooBig):
			c.fail(CodeTooBig, "message too big")
		case errors.Is(err, ErrInvalidUTF8):
			c.fail(CodeInvalidData, "invalid UTF-8")
		case errors.Is(err, ErrInvalidCompressed):
			c.fail(CodeInvalidData, "invalid compressed data")
		case errors.As(err, &pe):
			c.fail(CodeProtocolError, "protocol error")
		}
	}
	return data, err
}

// fail sends a close frame with code, as RFC 6455 asks of an endpoint that
// gives up on its peer.
func (c *Client) fail(code CloseCode, reason string) {
	if !c.closeSent.CompareAndSwap(false, true) {
		return
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_ = wsutil.WriteClientMessage(c.nc, ws.OpClose, ws.NewCloseFrameBody(ws.StatusCode(code), reason))
}

func (c *Client) next() ([]byte, error) {
	for {
		h, err := c.r.NextFrame()
		if err != nil {
			return nil, err
		}
		if h.OpCode.IsControl() {
			payload, err := io.ReadAll(c.r)
			if err != nil {
				return nil, err
			}
			switch h.OpCode {
			case ws.OpPing:
				if !c.closeSent.Load() {
					if err := wsutil.WriteClientMessage(c.nc, ws.OpPong, payload); err != nil {
						return nil, err
					}
				}
			case ws.OpClose:
				code, reason := ws.ParseCloseFrameData(payload)
				if c.closeSent.CompareAndSwap(false, true) { // answer the close, as RFC 6455 asks
					_ = wsutil.WriteClientMessage(c.nc, ws.OpClose, ws.NewCloseFrameBody(code, ""))
				}
				if len(payload) == 0 {
					code = ws.StatusNoStatusRcvd
				}
				return nil, &CloseError{Code: CloseCode(code), Reason: reason}
			}
			continue
		}
		if c.deflate {
			return c.readDeflated(h)
		}
		return c.readMessage(h)
	}
}

// readMessage reads the data message whose first frame is h, all its
// fragments, up to c.maxMessage bytes.
func (c *Client) readMessage(h ws.Header) ([]byte, error) {
	if c.maxMessage < 0 {
		return io.ReadAll(c.r)
	}
	if h.Length > c.maxMessage {
		return nil, &TooBigError{c.maxMessage}
	}
	size := 512
	if h.Fin {
		size = int(h.Length) // the whole message: no growing
	}
	data := make([]byte, 0, size)
	for {
		if len(data) == cap(data) {
			// grow by doubling, to the limit and one byte more: reading that
			// byte says the message is over
			room := c.maxMessage + 1 - int64(len(data))
			data = slices.Grow(data, int(min(max(int64(cap(data)), 512), room)))
		}
		n, err := c.r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if int64(len(data)) > c.maxMessage {
			return nil, &TooBigError{c.maxMessage}
		}
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// intermediate handles a control frame that arrives between the fragments of
// a message.
func (c *Client) intermediate(h ws.Header, r io.Reader) error {
	payload, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if h.OpCode == ws.OpPing && !c.closeSent.Load() {
		return wsutil.WriteClientMessage(c.nc, ws.OpPong, payload)
	}
	return nil
}

// trimReason makes a refusal's body into a one-line reason.
func trimReason(body []byte) string {
	s := strings.TrimSpace(string(body))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Header is the handshake answer's headers (the daemon's Logtail-Name,
// say), but for those of the WebSocket protocol itself (Upgrade,
// Connection, Sec-WebSocket-*). The caller must not change it.
func (c *Client) Header() http.Header { return c.header }

// SetDeadline bounds the next reads.
func (c *Client) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// Close sends a normal close, unless a close was sent already, and closes
// the connection.
func (c *Client) Close() error {
	c.fail(CodeNormal, "")
	return c.nc.Close()
}

// Conn is the underlying connection, for tests that misbehave on purpose.
func (c *Client) Conn() net.Conn { return c.nc }

// IsClose reports whether err is a close with the given code.
func IsClose(err error, code CloseCode) bool {
	var ce *CloseError
	return errors.As(err, &ce) && ce.Code == code
}
