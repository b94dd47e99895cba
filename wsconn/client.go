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
	"strings"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// HandshakeError is a refused handshake: the server's HTTP status and the
// reason it gave in the body.
type HandshakeError struct {
	Status int
	Reason string
}

func (e *HandshakeError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Reason)
}

// CloseError is how the server ended the stream.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("closed with %d", e.Code)
	}
	return fmt.Sprintf("closed with %d: %s", e.Code, e.Reason)
}

// DialOptions tune Dial.
type DialOptions struct {
	Header    http.Header // extra request headers (Authorization, Origin)
	TLSConfig *tls.Config
	// NoPong makes the client ignore pings, as a dead peer would (tests).
	NoPong bool
	// OnPing is called for each ping the server sends.
	OnPing func()
	// NetDial, when set, makes the TCP connection (e.g. to set socket options).
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client is the client side of a stream. It is used by one goroutine.
type Client struct {
	nc     net.Conn
	r      *wsutil.Reader
	noPong bool
	onPing func()
}

// Dial opens a WebSocket to url (ws:// or wss://). A refused handshake is a
// *HandshakeError carrying the server's status and reason.
func Dial(ctx context.Context, url string, opt DialOptions) (*Client, error) {
	var status int
	var body []byte
	d := ws.Dialer{
		Header:    ws.HandshakeHeaderHTTP(opt.Header),
		TLSConfig: opt.TLSConfig,
		NetDial:   opt.NetDial,
		OnStatusError: func(st int, _ []byte, resp io.Reader) {
			status = st
			if r, err := http.ReadResponse(bufio.NewReader(resp), nil); err == nil {
				body, _ = io.ReadAll(io.LimitReader(r.Body, 4096))
				r.Body.Close()
			}
		},
	}
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		if status != 0 {
			return nil, &HandshakeError{Status: status, Reason: trimReason(body)}
		}
		return nil, err
	}
	var src io.Reader = nc
	if br != nil { // frames that came with the handshake: losing them loses lines
		src = io.MultiReader(br, nc)
	}
	c := &Client{nc: nc, noPong: opt.NoPong, onPing: opt.OnPing}
	if c.onPing == nil {
		c.onPing = func() {}
	}
	c.r = &wsutil.Reader{Source: src, State: ws.StateClientSide, CheckUTF8: true,
		OnIntermediate: c.intermediate}
	return c, nil
}

// Next returns the payload of the next data message. Pings are answered on
// the way (unless NoPong). At the end of the stream it returns a *CloseError
// with the server's code, or the read error.
func (c *Client) Next() ([]byte, error) {
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
				c.onPing()
				if !c.noPong {
					if err := wsutil.WriteClientMessage(c.nc, ws.OpPong, payload); err != nil {
						return nil, err
					}
				}
			case ws.OpClose:
				code, reason := ws.ParseCloseFrameData(payload)
				// answer the close, as RFC 6455 asks
				_ = wsutil.WriteClientMessage(c.nc, ws.OpClose, ws.NewCloseFrameBody(code, ""))
				if len(payload) == 0 {
					code = ws.StatusNoStatusRcvd
				}
				return nil, &CloseError{Code: int(code), Reason: reason}
			}
			continue
		}
		data, err := io.ReadAll(c.r)
		if err != nil {
			return nil, err
		}
		return data, nil
	}
}

// intermediate handles a control frame that arrives between the fragments of
// a message.
func (c *Client) intermediate(h ws.Header, r io.Reader) error {
	payload, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if h.OpCode == ws.OpPing {
		c.onPing()
	}
	if h.OpCode == ws.OpPing && !c.noPong {
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

// SetDeadline bounds the next reads.
func (c *Client) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// Close sends a normal close and closes the connection.
func (c *Client) Close() error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_ = wsutil.WriteClientMessage(c.nc, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	return c.nc.Close()
}

// Conn is the underlying connection, for tests that misbehave on purpose.
func (c *Client) Conn() net.Conn { return c.nc }

// IsClose reports whether err is a close with the given code.
func IsClose(err error, code int) bool {
	var ce *CloseError
	return errors.As(err, &ce) && ce.Code == code
}
