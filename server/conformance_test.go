package server

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// The daemon against an independent WebSocket implementation: Python's
// websockets (Debian's python3-websockets), driven by testdata/conformance/peer.py.

const peerPython = "/usr/bin/python3"

// needPeer skips without python3-websockets, except in CI where it fails.
func needPeer(t *testing.T) {
	t.Helper()
	if err := exec.Command(peerPython, "-c", "import websockets").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-websockets is missing (scripts/test installs it): %v", err)
		}
		t.Skipf("python3-websockets is not installed: %v", err)
	}
}

// peer runs a scenario; each JSON line it prints is sent on the channel,
// which is closed when the peer exits.
func peer(t *testing.T, args ...string) <-chan map[string]any {
	t.Helper()
	cmd := exec.Command(peerPython, append([]string{"testdata/conformance/peer.py"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan map[string]any, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("peer printed %q", sc.Text())
				continue
			}
			ch <- m
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("peer %v: %v\n%s", args, err, stderr.String())
		}
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return ch
}

// next waits for the peer's next report.
func next(t *testing.T, ch <-chan map[string]any) map[string]any {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("the peer exited early")
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no word from the peer in 30 s")
	}
	return nil
}

func TestConformance(t *testing.T) {
	needPeer(t)
	td := startDaemon(t, func(c *Config) {
		c.HeartbeatInterval, c.HeartbeatTimeout = 100*time.Millisecond, 2*time.Second
	})
	long := strings.Repeat("0123456789", 20_000) // a 200 kB line, delivered whole
	p := td.write("app.log", numbered(1, 5)+long+"\n"+numbered(6, 7))

	t.Run("last lines, a 200 kB line, close 1000", func(t *testing.T) {
		m := next(t, peer(t, "last", td.url(p, "lines=3&format=text")))
		if m["code"] != 1000.0 || m["longest"] != float64(len(long)) {
			t.Errorf("peer saw %v", m)
		}
	})
	t.Run("pings answered, a later line arrives", func(t *testing.T) {
		relay := relayPongs(t, td.addr)
		ch := peer(t, "follow", "ws://"+relay.addr+p+"?lines=0&tail=1&format=text", "late line")
		next(t, ch) // ready
		// the daemon pings every 100 ms; websockets answers by itself
		testutil.WaitFor(t, "ten pongs from the peer", waitForLimit, func() bool { return relay.pongs.Load() >= 10 })
		td.write("app.log", "a late line\n")
		if m := next(t, ch); m["got"] != "a late line" {
			t.Errorf("peer saw %v", m)
		}
		if m := next(t, ch); m["code"] != 1000.0 {
			t.Errorf("peer's close: %v", m)
		}
	})
	t.Run("garbage from the peer, close 1002", func(t *testing.T) {
		m := next(t, peer(t, "garbage", td.url(p, "lines=0&tail=1")))
		if m["code"] != 1002.0 {
			t.Errorf("peer saw %v", m)
		}
	})
	t.Run("daemon shutdown, close 1001", func(t *testing.T) {
		ch := peer(t, "until-closed", td.url(p, "lines=1&tail=1"))
		next(t, ch) // ready
		td.stop()
		if m := next(t, ch); m["code"] != 1001.0 {
			t.Errorf("peer saw %v", m)
		}
	})
}

// pongRelay passes a peer's connections on to the daemon and counts the
// pongs the peer sends on them: the heartbeat answered, seen on the wire.
type pongRelay struct {
	addr  string // where the peer connects
	pongs atomic.Int32

	mu    sync.Mutex
	conns []net.Conn
}

// relayPongs starts a relay to the daemon at daemon; it ends with the test.
func relayPongs(t *testing.T, daemon string) *pongRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &pongRelay{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for _, c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			pc, err := ln.Accept()
			if err != nil {
				return
			}
			dc, err := net.Dial("tcp", daemon)
			if err != nil {
				t.Errorf("relay: %v", err)
				pc.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, pc, dc)
			r.mu.Unlock()
			wg.Go(func() { // the daemon's side, as it comes
				io.Copy(pc, dc)
				pc.(*net.TCPConn).CloseWrite()
			})
			wg.Go(func() { // the peer's side, its frames counted on the way
				in := bufio.NewReader(io.TeeReader(pc, dc))
				r.count(in)
				io.Copy(io.Discard, in) // what could not be read as frames
				dc.(*net.TCPConn).CloseWrite()
			})
		}
	})
	return r
}

// count reads a client's handshake, then its frames, counting the pongs,
// until the connection ends.
func (r *pongRelay) count(in *bufio.Reader) {
	for { // the request, up to its empty line
		line, err := in.ReadString('\n')
		if err != nil {
			return
		}
		if line == "\r\n" {
			break
		}
	}
	for {
		var h [2]byte
		if _, err := io.ReadFull(in, h[:]); err != nil {
			return
		}
		n := uint64(h[1] & 0x7f)
		if n >= 126 { // the length follows, in 2 bytes (126) or 8 (127)
			ext := make([]byte, 2+6*(n-126))
			if _, err := io.ReadFull(in, ext); err != nil {
				return
			}
			n = 0
			for _, b := range ext {
				n = n<<8 | uint64(b)
			}
		}
		if h[1]&0x80 != 0 {
			n += 4 // the masking key
		}
		if _, err := io.CopyN(io.Discard, in, int64(n)); err != nil {
			return
		}
		if h[0]&0x0f == 0xa {
			r.pongs.Add(1)
		}
	}
}
