package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// Hostile frames: RFC 6455 violations and control frames sent by hand on a
// raw connection, and the close code the daemon answers each with.

// rawConn is a WebSocket upgraded by hand, to send frames no library would.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

// rawUpgrade opens a stream with a hand-made handshake.
func rawUpgrade(t testing.TB, addr, target string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", target, addr)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("handshake: %d %s", resp.StatusCode, body)
	}
	return &rawConn{Conn: nc, br: br}
}

// frame is a client frame, right or wrong on purpose.
type frame struct {
	fin      bool
	rsv      byte // the three RSV bits, in place (0x40, 0x20, 0x10)
	op       byte
	unmasked bool
	payload  []byte
	length   int64 // announced length when set (>0), else len(payload)
}

func (f frame) bytes() []byte {
	b0 := f.op | f.rsv
	if f.fin {
		b0 |= 0x80
	}
	n := f.length
	if n == 0 {
		n = int64(len(f.payload))
	}
	var mask byte
	if !f.unmasked {
		mask = 0x80
	}
	out := []byte{b0}
	switch {
	case n >= 0 && n < 126:
		out = append(out, mask|byte(n))
	case n >= 0 && n <= 0xffff:
		out = append(out, mask|126, byte(n>>8), byte(n))
	default:
		out = append(out, mask|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if f.unmasked {
		return append(out, f.payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	out = append(out, key[:]...)
	for i, c := range f.payload {
		out = append(out, c^key[i%4])
	}
	return out
}

func closeBody(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// serverFrame is a frame the daemon sent.
type serverFrame struct {
	op      byte
	payload []byte
}

func (c *rawConn) next() (serverFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return serverFrame{}, err
	}
	if h[1]&0x80 != 0 {
		return serverFrame{}, errors.New("the server masked a frame")
	}
	n := int64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return serverFrame{}, err
		}
		n = int64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return serverFrame{}, err
		}
		n = int64(binary.BigEndian.Uint64(b[:]))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return serverFrame{}, err
	}
	return serverFrame{op: h[0] & 0x0f, payload: p}, nil
}

// closeCode reads frames until the daemon's close and returns its code (1005
// for a close without one, -1 when the connection ended without a close).
func (c *rawConn) closeCode() (int, []byte) {
	for {
		f, err := c.next()
		if err != nil {
			return -1, []byte(err.Error())
		}
		if f.op == 0x8 {
			if len(f.payload) < 2 {
				return 1005, nil
			}
			return int(binary.BigEndian.Uint16(f.payload)), f.payload[2:]
		}
	}
}

// frameCases are RFC 6455 violations and control frames, with the close code
// the daemon answers (0: no close; a pong with the ping's payload instead).
var frameCases = []struct {
	name   string
	frames []frame
	want   int
}{
	{"unmasked frame", []frame{{fin: true, op: 0x1, unmasked: true, payload: []byte("hi")}}, 1002},
	{"reserved data opcode 3", []frame{{fin: true, op: 0x3, payload: []byte("x")}}, 1002},
	{"reserved control opcode 0xB", []frame{{fin: true, op: 0xb}}, 1002},
	{"RSV1 set", []frame{{fin: true, rsv: 0x40, op: 0x1, payload: []byte("x")}}, 1002},
	{"RSV3 set on a ping", []frame{{fin: true, rsv: 0x10, op: 0x9}}, 1002},
	{"fragmented ping", []frame{{fin: false, op: 0x9, payload: []byte("p")}}, 1002},
	{"ping over 125 bytes", []frame{{fin: true, op: 0x9, payload: make([]byte, 126)}}, 1002},
	{"close over 125 bytes", []frame{{fin: true, op: 0x8, payload: closeBody(1000, strings.Repeat("r", 124))}}, 1002},
	{"continuation with no start", []frame{{fin: true, op: 0x0, payload: []byte("x")}}, 1002},
	{"new message inside a fragmented one", []frame{{op: 0x1, payload: []byte("a")}, {fin: true, op: 0x1, payload: []byte("b")}}, 1002},
	{"64-bit length with its top bit set", []frame{{fin: true, op: 0x2, length: -1 << 63}}, 1002},
	{"invalid UTF-8 text", []frame{{fin: true, op: 0x1, payload: []byte("bad \xff")}}, 1007},
	{"invalid UTF-8 across fragments", []frame{{op: 0x1, payload: []byte("ok \xe2\x82")}, {fin: true, op: 0x0, payload: []byte("x")}}, 1007},
	{"close with a 1-byte body", []frame{{fin: true, op: 0x8, payload: []byte{3}}}, 1002},
	{"close with code 999", []frame{{fin: true, op: 0x8, payload: closeBody(999, "")}}, 1002},
	{"close with reserved code 1005", []frame{{fin: true, op: 0x8, payload: closeBody(1005, "")}}, 1002},
	{"close with code 5000", []frame{{fin: true, op: 0x8, payload: closeBody(5000, "")}}, 1002},
	{"close with invalid UTF-8 reason", []frame{{fin: true, op: 0x8, payload: closeBody(1000, "\xff")}}, 1007},
	{"message over 64 KiB, announced 100 MB", []frame{{fin: true, op: 0x2, length: 100 << 20, payload: []byte("only this")}}, 1009},
	{"fragments that wrap the length past 2^63", []frame{{op: 0x2, payload: []byte("0123456789")}, {fin: true, op: 0x0, length: 1<<63 - 5, payload: []byte("x")}}, 1009},
	{"fragments adding up past 64 KiB", []frame{{op: 0x1, payload: make([]byte, 40<<10)}, {fin: true, op: 0x0, payload: make([]byte, 40<<10)}}, 1009},
	{"close 1000 is echoed", []frame{{fin: true, op: 0x8, payload: closeBody(1000, "bye")}}, 1000},
	{"close 1001 is echoed", []frame{{fin: true, op: 0x8, payload: closeBody(1001, "")}}, 1001},
	{"close 4000 (application) is echoed", []frame{{fin: true, op: 0x8, payload: closeBody(4000, "")}}, 4000},
	{"close without a code", []frame{{fin: true, op: 0x8}}, 1000},
	{"ping is answered", []frame{{fin: true, op: 0x9, payload: []byte("are you there")}}, 0},
	{"64 KiB message, fragmented, then ping", []frame{{op: 0x1, payload: make([]byte, 32<<10)}, {op: 0x0, payload: make([]byte, 32<<10)},
		{fin: true, op: 0x9, payload: []byte("between")}, {fin: true, op: 0x0}, {fin: true, op: 0x9, payload: []byte("after")}}, 0},
}

// runFrameCase sends the frames on a fresh stream and checks the answer.
func runFrameCase(t *testing.T, td *testDaemon, path string, i int) {
	tc := frameCases[i]
	c := rawUpgrade(t, td.addr, path+"?lines=0&tail=1")
	start := time.Now()
	go func() { // a peer that announces 100 MB may stall on a full socket
		for _, f := range tc.frames {
			if _, err := c.Write(f.bytes()); err != nil {
				return
			}
		}
	}()
	if tc.want == 0 {
		var pings []string
		for _, f := range tc.frames {
			if f.op == 0x9 {
				pings = append(pings, string(f.payload))
			}
		}
		for _, want := range pings {
			f, err := c.next()
			for err == nil && f.op == 0x9 { // the daemon's own heartbeat
				f, err = c.next()
			}
			if err != nil || f.op != 0xa || string(f.payload) != want {
				t.Fatalf("want a pong %q, got op %x %q, %v", want, f.op, f.payload, err)
			}
		}
		return
	}
	code, reason := c.closeCode()
	if code != tc.want {
		t.Fatalf("closed with %d (%s), want %d", code, reason, tc.want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the close took %v", d)
	}
	if !utf8.Valid(reason) {
		t.Errorf("reason is not UTF-8: %q", reason)
	}
	// our close answers theirs; then the daemon hangs up
	c.Write(frame{fin: true, op: 0x8, payload: closeBody(1000, "")}.bytes())
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c.br); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("after the close: %v, want the daemon to hang up", err)
	}
}

func TestHostileFrames(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "x\n")
	for i, tc := range frameCases {
		t.Run(tc.name, func(t *testing.T) { runFrameCase(t, td, p, i) })
	}
	checkServes(t, td, p)
}

// rawStatus sends a WebSocket handshake for target as written, and returns
// the status of the answer.
func rawStatus(t *testing.T, addr, target string) int {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", target, addr)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
