package wsconn

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// putHeader must write what gobwas/ws writes for the same frame, at each
// boundary of the three length forms.
func TestPutHeaderMatchesLibrary(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 20} {
		for _, op := range []ws.OpCode{ws.OpText, ws.OpPing, ws.OpClose} {
			msg := make([]byte, HeaderRoom+n)
			start := putHeader(msg, op, n)
			var want bytes.Buffer
			if err := ws.WriteHeader(&want, ws.Header{Fin: true, OpCode: op, Length: int64(n)}); err != nil {
				t.Fatal(err)
			}
			if got := msg[start:HeaderRoom]; !bytes.Equal(got, want.Bytes()) {
				t.Errorf("op %v, %d bytes: header %x, want %x", op, n, got, want.Bytes())
			}
		}
	}
}

// A client may send its first frames in the same packet as its handshake:
// they are in net/http's hijacked reader, and must survive the change to a
// small one.
func TestFramesSentWithTheHandshake(t *testing.T) {
	addr := serveUpgrades(t, func(c *Conn) {
		for ev := range c.Events() {
			if ev.Kind == Ping {
				c.Pong(ev.Payload)
				continue
			}
			c.Abort()
			return
		}
	})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	var ping bytes.Buffer
	ws.WriteFrame(&ping, ws.MaskFrameWith(ws.NewPingFrame([]byte("early")), [4]byte{1, 2, 3, 4}))
	if _, err := nc.Write(append([]byte(req), ping.Bytes()...)); err != nil { // one write, one segment
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	f, err := ws.ReadFrame(br)
	if err != nil {
		t.Fatal(err)
	}
	if f.Header.OpCode != ws.OpPong || string(f.Payload) != "early" {
		t.Errorf("got %v %q, want the pong of the early ping", f.Header.OpCode, f.Payload)
	}
}

// A client's close code is echoed only when RFC 6455 section 7.4 lets an
// endpoint send it: 1000-1003, 1007-1011, the registered 1012-1014, and
// 3000-4999 for libraries and applications. Any other code, 5000 and above
// included, is a protocol error answered with 1002.
func TestPeerCloseCodes(t *testing.T) {
	tests := []struct {
		code int
		kind EventKind
		want CloseCode
	}{
		{1000, PeerClose, 1000},
		{1001, PeerClose, 1001},
		{1003, PeerClose, 1003},
		{1011, PeerClose, 1011},
		{3000, PeerClose, 3000},
		{4999, PeerClose, 4999},
		{999, Broken, CodeProtocolError},
		{1004, Broken, CodeProtocolError},
		{1005, Broken, CodeProtocolError},
		{1006, Broken, CodeProtocolError},
		{1015, Broken, CodeProtocolError},
		{2999, Broken, CodeProtocolError},
		{5000, Broken, CodeProtocolError},
		{65535, Broken, CodeProtocolError},
	}
	events := make(chan Event, 1)
	addr := serveUpgrades(t, func(c *Conn) {
		ev := <-c.Events()
		c.Abort()
		events <- ev
	})
	for _, tt := range tests {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: %v %v", resp, err)
		}
		body := ws.NewCloseFrameBody(ws.StatusCode(tt.code), "")
		ws.WriteFrame(nc, ws.MaskFrameWith(ws.NewCloseFrame(body), [4]byte{1, 2, 3, 4}))
		ev := <-events
		nc.Close()
		if ev.Kind != tt.kind || ev.Code != tt.want {
			t.Errorf("close %d: event %v with code %d, want %v with %d", tt.code, ev.Kind, ev.Code, tt.kind, tt.want)
		}
	}
}

// serveUpgrades upgrades every request on a loopback server and gives the
// connection to handle; it returns the server's address.
func serveUpgrades(t *testing.T, handle func(*Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, Config{}, nil)
		if err != nil {
			t.Error(err)
			return
		}
		handle(c)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
