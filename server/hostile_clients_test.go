package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// Hostile clients: a request that never ends, a client that never reads,
// connections left half open.

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
	// reading now drains what it sent, then ends. (Today the slow-client
	// rule drops the subscriber after a second, but the connection goes only
	// when the write stuck on the full socket times out: wsconn's 10 s
	// WriteTimeout.)
	testutil.WaitFor(t, "the daemon to drop the client that never reads", 30*time.Second, func() bool {
		return tcpState(t, td.addr, c.LocalAddr().String()) != tcpEstablished
	})
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
	testutil.WaitFor(t, "the follower to stop", waitForLimit, func() bool { return td.d.hub.Followers() == 0 })
	backToBaseline(t, g0, fd0)
}

func shortHeartbeat(c *Config) {
	c.HeartbeatInterval, c.HeartbeatTimeout = 100*time.Millisecond, 200*time.Millisecond
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

// tcpEstablished is the state of an open connection in /proc/net/tcp.
const tcpEstablished = "01"

// tcpState is the state in /proc/net/tcp (hexadecimal, as the kernel
// writes it) of the IPv4 socket of this network namespace whose address is
// local and whose peer is remote; "" when there is none. Applied to the
// daemon's end of a connection, it tells whether the daemon has closed it,
// which the client cannot see before it has read all that came before.
func tcpState(t *testing.T, local, remote string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	l, r := procNetTCPAddr(t, local), procNetTCPAddr(t, remote)
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == l && f[2] == r {
			return f[3]
		}
	}
	return ""
}

// procNetTCPAddr writes an IPv4 address and port as /proc/net/tcp does: the
// address as a 32-bit number in the host's byte order, the port in
// hexadecimal.
func procNetTCPAddr(t *testing.T, hostport string) string {
	t.Helper()
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil || !ap.Addr().Is4() {
		t.Fatalf("%q: want an IPv4 address and port (%v)", hostport, err)
	}
	ip := ap.Addr().As4()
	return fmt.Sprintf("%08X:%04X", binary.NativeEndian.Uint32(ip[:]), ap.Port())
}
