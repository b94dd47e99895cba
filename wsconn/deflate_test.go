package wsconn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// upgradeWith sends a handshake with the given Sec-WebSocket-Extensions
// (none when empty) and returns the server's answer.
func upgradeWith(t *testing.T, addr, extensions string) *http.Response {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if extensions != "" {
		req += "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// The daemon takes a permessage-deflate offer it can honour, with no context
// takeover either way, and declines any other without refusing the stream.
func TestDeflateNegotiation(t *testing.T) {
	tests := []struct {
		name, offer string
		accept      bool
	}{
		{"no offer", "", false},
		{"plain offer (Firefox)", "permessage-deflate", true},
		{"client_max_window_bits (Chromium, Python websockets)", "permessage-deflate; client_max_window_bits", true},
		{"client window of 10 bits", "permessage-deflate; client_max_window_bits=10", true},
		{"no context takeover offered", "permessage-deflate; server_no_context_takeover; client_no_context_takeover", true},
		{"a smaller server window: cannot honour", "permessage-deflate; server_max_window_bits=10", false},
		{"second offer taken", "permessage-deflate; server_max_window_bits=10, permessage-deflate", true},
		{"unknown parameter", "permessage-deflate; hello", false},
		{"bad window bits", "permessage-deflate; client_max_window_bits=7", false},
		{"another extension", "x-webkit-deflate-frame", false},
		{"both", "x-webkit-deflate-frame, permessage-deflate", true},
		{"malformed header", `permessage-deflate; client_max_window_bits="`, false},
	}
	accepted := make(chan bool, 1)
	addr := serveUpgrades(t, func(c *Conn) {
		accepted <- c.Deflate()
		c.Abort()
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := upgradeWith(t, addr, tt.offer)
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d, want 101: an offer is declined, never refused", resp.StatusCode)
			}
			if got := <-accepted; got != tt.accept {
				t.Errorf("Conn.Deflate() = %v, want %v", got, tt.accept)
			}
			answer := resp.Header.Get("Sec-WebSocket-Extensions")
			if !tt.accept {
				if answer != "" {
					t.Errorf("answer %q, want none", answer)
				}
				return
			}
			for _, want := range []string{"permessage-deflate", "server_no_context_takeover", "client_no_context_takeover"} {
				if !strings.Contains(answer, want) {
					t.Errorf("answer %q lacks %s", answer, want)
				}
			}
		})
	}
}

// A Config with NoDeflate declines every offer.
func TestNoDeflateDeclines(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan bool, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, Config{NoDeflate: true}, nil)
		if err != nil {
			t.Error(err)
			accepted <- true
			return
		}
		accepted <- c.Deflate()
		c.Abort()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	resp := upgradeWith(t, ln.Addr().String(), "permessage-deflate")
	if <-accepted || resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Errorf("negotiated with NoDeflate: answer %q", resp.Header.Get("Sec-WebSocket-Extensions"))
	}
}

// logLines is n lines that look like a log's.
func logLines(n int) []byte {
	var b []byte
	for i := range n {
		b = fmt.Appendf(b, "2026-12-06 07:32:%02d status unpacked libsecret-%d:amd64 0.20.5-3\n", i%60, i)
	}
	return b
}

// AppendDeflatedText compresses what gains from it, leaves the rest as it is,
// and its frames read back the same, through gobwas/ws and through Client.
func TestDeflatedTextFrames(t *testing.T) {
	// random printable text gains nothing at this size: the block's own
	// header costs what the codes save
	random := make([]byte, 200)
	rand.Read(random)
	for i, b := range random {
		random[i] = ' ' + b%95
	}
	payloads := []struct {
		name       string
		p          []byte
		compressed bool
	}{
		{"empty", nil, false},
		{"one short line", []byte("hello\n"), false},
		{"just under MinDeflate", bytes.Repeat([]byte("a"), MinDeflate-1), false},
		{"MinDeflate", bytes.Repeat([]byte("a"), MinDeflate), true},
		{"log lines", logLines(200), true},
		{"incompressible", random, false},
		{"over 64 KiB", logLines(3000), true},
	}
	conns := make(chan *Conn, 1)
	addr := serveUpgrades(t, func(c *Conn) { conns <- c })

	// raw frames, as a browser gets them
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, br, hs, err := ws.Dialer{Extensions: deflateOffer()}.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if ok, err := acceptedDeflate(hs.Extensions); !ok || err != nil {
		t.Fatalf("not negotiated: %v %v", ok, err)
	}
	c := <-conns
	defer c.Abort()
	var src io.Reader = nc
	if br != nil {
		src = io.MultiReader(br, nc)
	}
	rd := bufio.NewReader(src)
	var all []byte
	for _, tt := range payloads {
		frame := AppendDeflatedText(nil, tt.p)
		n, payload, zn, zpayload := FrameStats(frame)
		if n != 1 || (zn == 1) != tt.compressed || (zn == 1 && zpayload != payload) {
			t.Errorf("%s: FrameStats = %d %d %d %d", tt.name, n, payload, zn, zpayload)
		}
		if tt.compressed && payload >= len(tt.p) {
			t.Errorf("%s: compressed to %d bytes from %d", tt.name, payload, len(tt.p))
		}
		all = append(all, frame...)
		go c.WriteFrames(frame)
		f, err := ws.ReadFrame(rd)
		if err != nil {
			t.Fatal(err)
		}
		if f.Header.OpCode != ws.OpText || !f.Header.Fin || f.Header.Rsv1() != tt.compressed || f.Header.Rsv2() || f.Header.Rsv3() {
			t.Errorf("%s: header %+v, want a final text frame with RSV1 %v", tt.name, f.Header, tt.compressed)
		}
		f, err = wsflate.DecompressFrame(f)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !bytes.Equal(f.Payload, tt.p) {
			t.Errorf("%s: got %d bytes back, not the %d sent", tt.name, len(f.Payload), len(tt.p))
		}
	}
	n, _, zn, _ := FrameStats(all)
	if n != len(payloads) || zn != 3 {
		t.Errorf("FrameStats of all: %d frames, %d compressed; want %d and 3", n, zn, len(payloads))
	}

	// the same frames, back to back, through Client
	cl, err := Dial(ctx, "ws://"+addr+"/", DialOptions{Deflate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c2 := <-conns
	defer c2.Abort()
	if !c2.Deflate() {
		t.Fatal("Client with Deflate did not negotiate it")
	}
	go c2.WriteFrames(all)
	for _, tt := range payloads {
		got, err := cl.Next()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !bytes.Equal(got, tt.p) {
			t.Errorf("%s: Next gave %d bytes, not the %d sent", tt.name, len(got), len(tt.p))
		}
	}
}

// Compressed frames go only where permessage-deflate was negotiated.
func TestWriteFramesNeedsDeflate(t *testing.T) {
	conns := make(chan *Conn, 1)
	addr := serveUpgrades(t, func(c *Conn) { conns <- c })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := Dial(ctx, "ws://"+addr+"/", DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c := <-conns
	defer c.Abort()
	if c.Deflate() {
		t.Fatal("negotiated without an offer")
	}
	if err := c.WriteFrames(AppendDeflatedText(nil, logLines(100))); err == nil {
		t.Error("WriteFrames to a connection without permessage-deflate succeeded")
	}
}

// compressed is p as a permessage-deflate message.
func compressed(p []byte) []byte {
	z, err := deflate(nil, p)
	if err != nil {
		panic(err)
	}
	return z
}

// TestRFC7692 holds the server's reader to RFC 7692 when the client
// negotiated permessage-deflate: RSV1 on the first frame of a data message
// means compressed (inflated, bounded by MaxMessage once inflated, checked
// for UTF-8 when text); on a control frame or a continuation it is a
// protocol error; RSV2 and RSV3 still are. (Without negotiation RSV1 is
// refused: TestRFC6455's 3.x cases.)
func TestRFC7692(t *testing.T) {
	addr := serveUpgrades(t, answer)
	var cases []rfcCase
	add := func(name string, send [][]byte, want ...reply) {
		cases = append(cases, rfcCase{name: name, send: send, want: want, deflate: true})
	}
	hello := compressed([]byte("Hello, compressed world"))
	z := compressed(logLines(100))
	add("13.1 compressed text", inOne(frame(true, rsv1, ws.OpText, hello)))
	add("13.2 compressed binary", inOne(frame(true, rsv1, ws.OpBinary, z)))
	add("13.3 uncompressed text in a deflate session", inOne(text("Hello")))
	add("13.4 compressed text in three fragments, RSV1 on the first only",
		frameWise(frame(false, rsv1, ws.OpText, z[:10]), frame(false, 0, ws.OpContinuation, z[10:20]),
			frame(true, 0, ws.OpContinuation, z[20:])))
	add("13.5 compressed text, ping between its fragments",
		inOne(frame(false, rsv1, ws.OpText, z[:10]), ping([]byte("between")), frame(true, 0, ws.OpContinuation, z[10:])),
		pongOf([]byte("between")))
	add("13.6 compressed text, octet-wise", inChops(1, frame(true, rsv1, ws.OpText, hello)))
	add("13.7 RSV1 on a continuation",
		inOne(frame(false, rsv1, ws.OpText, z[:10]), frame(true, rsv1, ws.OpContinuation, z[10:])),
		closeWith(CodeProtocolError))
	add("13.8 ping with RSV1", inOne(frame(true, rsv1, ws.OpPing, []byte("x"))), closeWith(CodeProtocolError))
	add("13.9 close with RSV1", inOne(frame(true, rsv1, ws.OpClose, []byte{0x03, 0xe8})), closeWith(CodeProtocolError))
	add("13.10 compressed text with RSV2 too", inOne(frame(true, rsv1|rsv2, ws.OpText, hello)), closeWith(CodeProtocolError))
	add("13.11 not deflate data", inOne(frame(true, rsv1, ws.OpText, []byte{0xff, 0xff, 0xff, 0xff})),
		closeWith(CodeInvalidData))
	add("13.12 inflates to invalid UTF-8", inOne(frame(true, rsv1, ws.OpText, compressed([]byte("a\xffb")))),
		closeWith(CodeInvalidData))
	add("13.13 inflates past MaxMessage (64 KiB) from 200 bytes",
		inOne(frame(true, rsv1, ws.OpText, compressed(bytes.Repeat([]byte("a"), 100<<10)))), closeWith(CodeTooBig))
	add("13.14 compressed binary that is not UTF-8", inOne(frame(true, rsv1, ws.OpBinary, compressed([]byte{0xff, 0xfe}))))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, addr) })
	}
}

// rawServer answers one handshake with the given Sec-WebSocket-Extensions
// answer (none when empty), writes frames as they are, then reads the
// client's frames and reports the code of its close.
func rawServer(t *testing.T, answer string, frames []byte) (addr string, closeCode <-chan CloseCode) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	codes := make(chan CloseCode, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := ws.HTTPUpgrader{}
		if answer != "" {
			opts, ok := httphead.ParseOptions([]byte(answer), nil)
			if !ok || len(opts) != 1 {
				panic("bad answer " + answer)
			}
			u.Negotiate = func(opt httphead.Option) (httphead.Option, error) {
				if !bytes.Equal(opt.Name, wsflate.ExtensionNameBytes) {
					return httphead.Option{}, nil
				}
				return opts[0], nil
			}
		}
		nc, rw, _, err := u.Upgrade(r, w)
		if err != nil {
			t.Error(err)
			codes <- 0
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		nc.Write(frames)
		for {
			f, err := ws.ReadFrame(rw.Reader)
			if err != nil {
				codes <- 0
				return
			}
			if f.Header.OpCode == ws.OpClose {
				f = ws.UnmaskFrameInPlace(f)
				code, _ := ws.ParseCloseFrameData(f.Payload)
				codes <- CloseCode(code)
				return
			}
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), codes
}

// serverFrame is an unmasked frame, as a server sends.
func serverFrame(fin bool, rsv byte, op ws.OpCode, payload []byte) []byte {
	return encodeFrame(fin, rsv, op, payload, false)
}

// A Client that negotiated permessage-deflate inflates what the server
// compressed, bounds it by MaxMessage once inflated, and fails what breaks
// RFC 7692 with the close code RFC 6455 gives it.
func TestClientInflates(t *testing.T) {
	const limit = 64 << 10
	lines := logLines(300)
	z := compressed(lines)
	tests := []struct {
		name   string
		frames []byte
		want   []byte    // the message, when it is good
		err    error     // else the error Next returns
		code   CloseCode // and the close the client sends
	}{
		{"compressed text", serverFrame(true, rsv1, ws.OpText, z), lines, nil, 0},
		{"uncompressed text", serverFrame(true, 0, ws.OpText, lines), lines, nil, 0},
		{"compressed, fragmented", append(serverFrame(false, rsv1, ws.OpText, z[:100]), serverFrame(true, 0, ws.OpContinuation, z[100:])...), lines, nil, 0},
		{"compressed, ping between fragments", bytes.Join([][]byte{serverFrame(false, rsv1, ws.OpText, z[:100]),
			serverFrame(true, 0, ws.OpPing, nil), serverFrame(true, 0, ws.OpContinuation, z[100:])}, nil), lines, nil, 0},
		{"inflates past MaxMessage", serverFrame(true, rsv1, ws.OpText, compressed(bytes.Repeat([]byte("a"), limit+1))),
			nil, &TooBigError{limit}, CodeTooBig},
		{"inflates to exactly MaxMessage", serverFrame(true, rsv1, ws.OpText, compressed(bytes.Repeat([]byte("a"), limit))),
			bytes.Repeat([]byte("a"), limit), nil, 0},
		{"not deflate data", serverFrame(true, rsv1, ws.OpText, []byte{0xff, 0xff, 0xff}), nil, ErrInvalidCompressed, CodeInvalidData},
		{"inflates to invalid UTF-8", serverFrame(true, rsv1, ws.OpText, compressed([]byte("a\xffb"))), nil, ErrInvalidUTF8, CodeInvalidData},
		{"uncompressed invalid UTF-8", serverFrame(true, 0, ws.OpText, []byte("a\xffb")), nil, ErrInvalidUTF8, CodeInvalidData},
		{"RSV1 on a continuation", append(serverFrame(false, rsv1, ws.OpText, z[:100]), serverFrame(true, rsv1, ws.OpContinuation, z[100:])...),
			nil, wsflate.ErrUnexpectedCompressionBit, CodeProtocolError},
		{"RSV1 on a ping", serverFrame(true, rsv1, ws.OpPing, nil), nil, wsflate.ErrUnexpectedCompressionBit, CodeProtocolError},
		{"RSV2 on text", serverFrame(true, rsv2, ws.OpText, lines), nil, ws.ErrProtocolNonZeroRsv, CodeProtocolError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, codes := rawServer(t, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", tt.frames)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cl, err := Dial(ctx, "ws://"+addr+"/", DialOptions{Deflate: true, MaxMessage: limit})
			if err != nil {
				t.Fatal(err)
			}
			got, err := cl.Next()
			if tt.err == nil {
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Fatalf("Next: %d bytes, %v; want the %d bytes sent", len(got), err, len(tt.want))
				}
				cl.Close()
				if code := <-codes; code != CodeNormal {
					t.Errorf("closed with %d, want 1000", code)
				}
				return
			}
			var tooBig *TooBigError
			if !errors.Is(err, tt.err) && !(errors.As(tt.err, &tooBig) && errors.As(err, &tooBig)) {
				t.Errorf("Next: %v, want %v", err, tt.err)
			}
			cl.Close()
			if code := <-codes; code != tt.code {
				t.Errorf("closed with %d, want %d", code, tt.code)
			}
		})
	}
}

// A server that takes the offer but keeps its window across messages
// (no server_no_context_takeover in its answer) would make the second
// message fail to inflate: Dial refuses it at once.
func TestDialRefusesContextTakeover(t *testing.T) {
	addr, _ := rawServer(t, "permessage-deflate; client_no_context_takeover", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := Dial(ctx, "ws://"+addr+"/", DialOptions{Deflate: true})
	if err == nil {
		cl.Close()
		t.Fatal("Dial accepted a permessage-deflate answer without server_no_context_takeover")
	}
	if !strings.Contains(err.Error(), "server_no_context_takeover") {
		t.Errorf("Dial: %v, want it to name server_no_context_takeover", err)
	}
}

// Without DialOptions.Deflate a Client offers nothing, and RSV1 from the
// server is a protocol error, as before.
func TestClientWithoutDeflate(t *testing.T) {
	addr, codes := rawServer(t, "", serverFrame(true, rsv1, ws.OpText, compressed(logLines(10))))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := Dial(ctx, "ws://"+addr+"/", DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Next()
	var pe ws.ProtocolError
	if !errors.As(err, &pe) {
		t.Errorf("Next: %v, want a protocol error", err)
	}
	cl.Close()
	if code := <-codes; code != CodeProtocolError {
		t.Errorf("closed with %d, want 1002", code)
	}
}
