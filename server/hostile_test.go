package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logtail/logtail/internal/testutil"

	"github.com/logtail/logtail/wsconn"
)

// Hostile and broken input (issue 7): each case checks the answer the daemon
// gives, and TestHostileAllAtOnce throws them all at one daemon and checks it
// still serves and holds no more goroutines or descriptors than before.

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

// checkServes reads a file normally: the daemon still serves.
func checkServes(t *testing.T, td *testDaemon, p string) {
	t.Helper()
	c := dialT(t, td, p, "lines=1&format=text")
	got, err := testutil.ReadAll(t, c)
	c.Close()
	if !wsconn.IsClose(err, 1000) || got == "" {
		t.Fatalf("a normal client afterwards: %q, %v", got, err)
	}
}

// originCases: the answers to a browser's Origin; the daemon runs with
// --allow-origin https://app.example:8443 and http://Mixed.Example/.
func originCases(addr string) []struct {
	origin string
	status int // 101 accepted
} {
	host, port, _ := net.SplitHostPort(addr)
	return []struct {
		origin string
		status int
	}{
		{"", 101},
		{"http://" + addr, 101},
		{"HTTP://" + strings.ToUpper(addr), 101},
		{"https://" + addr, 101}, // the host decides, as in gorilla/websocket and coder/websocket
		{"http://" + addr + "/", 101},
		{"null", 403},
		{"http://" + host, 403},
		{"http://" + host + ":1", 403},
		{"http://localhost:" + port, 403},
		{"http://" + addr + ".evil.example", 403},
		{"http://evil.example/http://" + addr, 403},
		{"http://evil.example", 403},
		{"https://app.example:8443", 101},
		{"HTTPS://APP.example:8443", 101},
		{"https://app.example", 403},
		{"http://app.example:8443", 403},
		{"https://app.example:8444", 403},
		{"https://app.example:8443/", 403}, // browsers never send a path; an allowed origin is matched as written
		{"http://mixed.example", 101},
		{"http://mixed.example:80", 403},
		{"file://", 403},
	}
}

func allowOrigins(c *Config) {
	c.AllowOrigins = []string{"https://app.example:8443", "http://Mixed.Example/"}
}

func runOriginCases(t *testing.T, td *testDaemon, p string) {
	for _, tc := range originCases(td.addr) {
		t.Run(tc.origin, func(t *testing.T) {
			var h http.Header
			if tc.origin != "" {
				h = http.Header{"Origin": {tc.origin}}
			}
			status := testutil.DialStatus(t, td.url(p, "lines=0"), h)
			if status != tc.status {
				t.Errorf("Origin %q: %d, want %d", tc.origin, status, tc.status)
			}
		})
	}
}

func TestHostileOrigin(t *testing.T) {
	td := startDaemon(t, allowOrigins)
	p := td.write("app.log", "x\n")
	runOriginCases(t, td, p)
}

// queryCases: the answers to odd queries.
var queryCases = []struct {
	query  string
	status int
}{
	{"lines=1&lines=1", 400},
	{"lines=1&lines=2", 400},
	{"tail=0&tail=0", 400},
	{"format=text&format=text", 400},
	{"html=1&html=1", 400},
	{"lines=-1", 400},
	{"lines=+5", 400},
	{"lines=1e3", 400},
	{"lines=0x10", 400},
	{"lines=", 400},
	{"lines= 5", 400},
	{"lines=2147483648", 400},
	{"lines=99999999999999999999999999999999", 400},
	{"lines=2147483647", 101}, // capped at --max-lines
	{"lines=007", 101},
	{"lines=5;tail=1", 400},
	{"lines=%zz", 400},
	{"%zz=1", 400},
	{"format=TEXT", 400},
	{"format=", 400},
	{"tail=yes", 400},
	{"from=garbage", 400},
	{"from=1:2:-3", 400},
	{"lines=1&foo=bar&_=12345&lines2=x", 101}, // unknown parameters are ignored
	{"LINES=1&LINES=2", 101},                  // names are case-sensitive: unknown, ignored
	{"&&&=&", 101},
	{strings.Repeat("x=1&", 4000) + "lines=1", 101},
}

func runQueryCases(t *testing.T, td *testDaemon, p string) {
	for _, tc := range queryCases {
		name := tc.query
		if len(name) > 40 {
			name = name[:40] + "…"
		}
		t.Run(name, func(t *testing.T) {
			if got := testutil.DialStatus(t, td.url(p, tc.query), nil); got != tc.status {
				t.Errorf("?%.60s: %d, want %d", tc.query, got, tc.status)
			}
		})
	}
	t.Run("100 kB URL", func(t *testing.T) { hugeURL(t, td, p) })
}

// hugeURL sends a 100 kB request line: Go's server answers 431 (MaxHeaderBytes
// is 64 KiB) and the daemon keeps serving.
func hugeURL(t *testing.T, td *testDaemon, p string) {
	nc, err := net.Dial("tcp", td.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	go fmt.Fprintf(nc, "GET %s?pad=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", p, strings.Repeat("a", 100_000), td.addr)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 kB URL: %d, want 431", resp.StatusCode)
	}
}

func TestHostileQuery(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "x\n")
	runQueryCases(t, td, p)
	checkServes(t, td, p)
}

// TestHostileHalfFinishedRequest: a request whose header never ends is
// dropped by the server's ReadHeaderTimeout (10 s, not configurable: the
// test waits for it, bounded by 20 s).
func TestHostileHalfFinishedRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10 s ReadHeaderTimeout")
	}
	t.Parallel()
	td := startDaemon(t)
	p := td.write("app.log", "x\n")
	nc, err := net.Dial("tcp", td.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: webs", p, td.addr)
	start := time.Now()
	nc.SetReadDeadline(start.Add(20 * time.Second))
	_, err = io.Copy(io.Discard, nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("still open after %v", time.Since(start))
	}
	t.Logf("dropped after %v (%v)", time.Since(start).Round(time.Millisecond), err)
	checkServes(t, td, p)
}

// neverReads upgrades with tail=1 and never reads while lines are written:
// the heartbeat (no pong) or the slow-client rule must drop it.
func neverReads(t *testing.T, td *testDaemon, name string) {
	p := td.write(name, "x\n")
	c := rawUpgrade(t, td.addr, p+"?lines=0&tail=1&format=text")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		line := strings.Repeat("y", 8<<10) + "\n"
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				td.write(name, line)
			}
		}
	})
	defer wg.Wait()
	defer close(stop)
	// the daemon has let go once the connection is closed from its side:
	// reading now drains what it sent, then ends
	time.Sleep(time.Second) // let the socket buffers fill before reading
	c.SetDeadline(time.Now().Add(30 * time.Second))
	code, why := c.closeCode()
	c.Close()
	t.Logf("never-reading client: closed with %d %s", code, why)
	if code != -1 && code != 1013 {
		t.Errorf("closed with %d, want 1013 or a drop", code)
	}
}

func TestHostileNeverReads(t *testing.T) {
	td := startDaemon(t, shortHeartbeat)
	warmUp(t, td)
	g0, fd0 := runtime.NumGoroutine(), openFDs(t)
	neverReads(t, td, "busy.log")
	waitFor(t, "the follower to stop", func() bool { return td.d.hub.Followers() == 0 })
	backToBaseline(t, g0, fd0)
}

func shortHeartbeat(c *Config) {
	c.HeartbeatInterval, c.HeartbeatTimeout = 100*time.Millisecond, 200*time.Millisecond
}

// warmUp follows a file once, so that what the daemon starts once and
// keeps (the shared inotify watcher) is counted in the baseline.
func warmUp(t *testing.T, td *testDaemon) {
	t.Helper()
	p := td.write("warm-up.log", "x\n")
	c := dialT(t, td, p, "lines=1&tail=1")
	readLines(t, c, 1)
	c.Close()
	checkServes(t, td, p)
	waitFor(t, "the follower to stop", func() bool { return td.d.hub.Followers() == 0 })
	settle(t)
}

// settle waits for a freshly started daemon's goroutines to be up.
func settle(t *testing.T) {
	t.Helper()
	prev := -1
	for n := runtime.NumGoroutine(); n != prev; n = runtime.NumGoroutine() {
		prev = n
		time.Sleep(50 * time.Millisecond)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// backToBaseline polls until goroutines and descriptors are back to at most
// what they were (other tests' leftovers may settle meanwhile).
func backToBaseline(t *testing.T, g0, fd0 int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		g, fd := runtime.NumGoroutine(), openFDs(t)
		if g <= g0 && fd <= fd0 {
			t.Logf("goroutines %d (baseline %d), descriptors %d (baseline %d)", g, g0, fd, fd0)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines %d (baseline %d), descriptors %d (baseline %d)\n%s", g, g0, fd, fd0, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// oddFiles: what follows and last-lines make of odd content and odd files.
func oddFiles(t *testing.T, td *testDaemon) {
	t.Run("odd bytes followed", func(t *testing.T) {
		p := td.write("odd.log", "start\n")
		for _, format := range []string{"text", "html"} {
			c := dialT(t, td, p, "lines=0&tail=1&format="+format)
			td.write("odd.log", "bad \xff\xfe utf8\nnul\x00byte\ncrlf\r\n")
			got := strings.Join(readLines(t, c, 3), "")
			want := "bad \ufffd\ufffd utf8\nnul\x00byte\ncrlf\r\n"
			if format == "html" {
				want = "bad \ufffd\ufffd utf8\nnul\ufffdbyte\ncrlf\n"
			}
			if got != want && format == "text" {
				t.Errorf("%s: got %q, want %q", format, got, want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("%s: invalid UTF-8 sent: %q", format, got)
			}
			t.Logf("%s: %q", format, got)
			c.Close()
		}
	})
	t.Run("10 MB line without newline", func(t *testing.T) {
		limit := td.d.cfg.MaxLineBytes
		p := td.write("long.log", "before\n")
		c := dialT(t, td, p, "lines=1&tail=1&format=text")
		readLines(t, c, 1)
		big := strings.Repeat("é", 5<<20) // 10 MB, the cut must not split a character
		td.write("long.log", big)
		got := readLines(t, c, 1)[0]
		if !strings.HasSuffix(got, " [line cut]\n") || len(got) > limit+len(" [line cut]\n") || !utf8.ValidString(got) {
			t.Fatalf("cut line: %d bytes, ends %q", len(got), got[max(0, len(got)-20):])
		}
		td.write("long.log", "rest of the long line\nnext\n")
		if got := readLines(t, c, 1)[0]; got != "next\n" {
			t.Errorf("after the cut line: %q", got)
		}
		// the last lines of a file holding it, finished
		got, err := testutil.ReadAll(t, dialT(t, td, p, "lines=2&format=text"))
		if !wsconn.IsClose(err, 1000) {
			t.Fatalf("last lines: %v", err)
		}
		lines := strings.SplitAfter(got, "\n")
		t.Logf("last 2 lines of a file with a 10 MB line: %d lines, first %d bytes", len(lines)-1, len(lines[0]))
		if len(lines[0]) > limit+len(" [line cut]\n") || !strings.HasSuffix(lines[0], " [line cut]\n") || !utf8.ValidString(lines[0]) {
			t.Errorf("last lines: a line of %d bytes, over --max-line-bytes %d or not marked", len(lines[0]), limit)
		}
	})
	t.Run("file shrinks while its last lines are read", func(t *testing.T) {
		p := td.write("shrink.log", "")
		content := numbered(1, 200_000)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				os.WriteFile(p, []byte(content), 0o644)
				os.Truncate(p, int64(len(content)/3))
				os.Truncate(p, 10)
			}
		})
		counts := map[string]int{}
		for range 30 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := wsconn.Dial(ctx, td.url(p, "lines=10000&format=text"), wsconn.DialOptions{})
			cancel()
			var he *wsconn.HandshakeError
			switch {
			case errors.As(err, &he):
				counts[fmt.Sprint(he.Status)]++
			case err != nil:
				t.Fatalf("dial: %v", err)
			default:
				got, err := testutil.ReadAll(t, c)
				c.Close()
				var ce *wsconn.CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("stream ended with %v", err)
				}
				counts[fmt.Sprint(ce.Code)]++
				if ce.Code == 1000 && got != "" && !strings.HasSuffix(got, "\n") {
					t.Errorf("incomplete line sent")
				}
			}
		}
		close(stop)
		wg.Wait()
		t.Logf("answers while the file shrinks: %v", counts)
	})
	for _, kind := range []string{"directory", "FIFO"} {
		t.Run("file replaced by a "+kind+" while followed", func(t *testing.T) {
			name := "swap-" + kind + ".log"
			p := td.write(name, "one\n")
			c := dialT(t, td, p, "lines=1&tail=1&format=text")
			readLines(t, c, 1)
			os.Remove(p)
			var err error
			if kind == "directory" {
				err = os.Mkdir(p, 0o755)
			} else {
				err = syscall.Mkfifo(p, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			// the last lines of it are refused at once (a following client
			// would join the follower, which waits for a file under the name)
			if got := testutil.DialStatus(t, td.url(p, ""), nil); got != 400 {
				t.Errorf("new client on a %s: %d, want 400", kind, got)
			}
			time.Sleep(300 * time.Millisecond) // a poll or two sees the swap
			os.Remove(p)
			td.write(name, "back\n")
			if got := readLines(t, c, 1)[0]; got != "back\n" {
				t.Errorf("after the %s went: %q", kind, got)
			}
			c.Close()
		})
	}
	t.Run("no read permission", func(t *testing.T) {
		p := td.write("secret.log", "x\n")
		os.Chmod(p, 0)
		defer os.Chmod(p, 0o644)
		if os.Geteuid() == 0 {
			t.Skip("running as root: TestBinary/unreadable_file_as_nobody runs the daemon as nobody for this")
		}
		if got := testutil.DialStatus(t, td.url(p, ""), nil); got != 403 && got != 404 {
			t.Errorf("unreadable file: %d, want 403 or 404", got)
		}
	})
	t.Run("spaces, unicode and % in the name", func(t *testing.T) {
		name := "my app ünï 100%.log"
		p := td.write(name, "spaced\n")
		u := "ws://" + td.addr + (&url.URL{Path: p}).EscapedPath() + "?format=text"
		got, err := testutil.ReadAll(t, testutil.DialOK(t, u))
		if got != "spaced\n" || !wsconn.IsClose(err, 1000) {
			t.Errorf("escaped name: %q, %v", got, err)
		}
		// the same name with a raw %: an invalid escape, refused by net/http
		if got := rawStatus(t, td.addr, strings.ReplaceAll(p, " ", "%20")); got != 400 {
			t.Errorf("raw %%: %d, want 400", got)
		}
	})
}

func TestHostileFiles(t *testing.T) {
	td := startDaemon(t)
	oddFiles(t, td)
	checkServes(t, td, td.write("app.log", "x\n"))
}

// halfOpen opens n connections that send half a request and then nothing;
// the daemon keeps serving meanwhile. It returns a func that closes them.
func halfOpen(t *testing.T, td *testDaemon, n int) func() {
	conns := make([]net.Conn, 0, n)
	for range n {
		nc, err := net.Dial("tcp", td.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHo")
		conns = append(conns, nc)
	}
	return func() {
		for _, nc := range conns {
			nc.Close()
		}
	}
}

// TestHostileAllAtOnce throws every case at one daemon at the same time;
// then a normal client is served and the daemon holds no more goroutines
// or descriptors than before.
func TestHostileAllAtOnce(t *testing.T) {
	// pings often, but with room for clients that pause between reads
	td := startDaemon(t, allowOrigins, func(c *Config) {
		c.HeartbeatInterval, c.HeartbeatTimeout = 200*time.Millisecond, 2*time.Second
	})
	p := td.write("app.log", numbered(1, 10))
	warmUp(t, td)
	g0, fd0 := runtime.NumGoroutine(), openFDs(t)

	closeHalfOpen := halfOpen(t, td, 200)
	t.Run("all", func(t *testing.T) {
		t.Run("frames", func(t *testing.T) {
			t.Parallel()
			for i, tc := range frameCases {
				t.Run(tc.name, func(t *testing.T) { t.Parallel(); runFrameCase(t, td, p, i) })
			}
		})
		t.Run("origins", func(t *testing.T) { t.Parallel(); runOriginCases(t, td, p) })
		t.Run("queries", func(t *testing.T) { t.Parallel(); runQueryCases(t, td, p) })
		t.Run("files", func(t *testing.T) { t.Parallel(); oddFiles(t, td) })
		t.Run("never reads", func(t *testing.T) { t.Parallel(); neverReads(t, td, "busy.log") })
		t.Run("normal client meanwhile", func(t *testing.T) {
			t.Parallel()
			c := dialT(t, td, p, "lines=2&tail=1&format=text")
			readLines(t, c, 2)
			td.write("app.log", "served\n")
			if got := readLines(t, c, 1)[0]; got != "served\n" {
				t.Errorf("got %q", got)
			}
		})
	})
	closeHalfOpen()
	checkServes(t, td, p)
	waitFor(t, "followers to stop", func() bool { return td.d.hub.Followers() == 0 })
	backToBaseline(t, g0, fd0)
}

// dialT is td.dial closed at the end of t, not of the whole test: the
// baseline checks count the client's descriptors too.
func dialT(t *testing.T, td *testDaemon, path, query string) *wsconn.Client {
	t.Helper()
	return testutil.DialOK(t, td.url(path, query))
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
