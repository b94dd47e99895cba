package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// daemonProc reads what /proc and the debug server tell about a daemon
// running as a process.
type daemonProc struct {
	t     *testing.T
	pid   int
	debug string // --debug-addr
}

// noKeepAlive leaves no idle connection in the daemon to count.
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// goroutines is the daemon's goroutine count, from its profile.
func (p daemonProc) goroutines() int {
	p.t.Helper()
	resp, err := noKeepAlive.Get("http://" + p.debug + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "goroutine profile: total ")))
	if err != nil {
		p.t.Fatalf("goroutine profile %q: %v", line, err)
	}
	return n
}

func (p daemonProc) fds() int {
	p.t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.pid))
	if err != nil {
		p.t.Fatal(err)
	}
	return len(ents)
}

// cpu is the user and system time the daemon has used.
func (p daemonProc) cpu() time.Duration {
	p.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		p.t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:])) // after "pid (comm) "
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// mem is a line of /proc/PID/status in MiB (VmRSS, VmHWM).
func (p daemonProc) mem(key string) float64 {
	p.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		p.t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	p.t.Fatalf("no %s in /proc/%d/status", key, p.pid)
	return 0
}

// freeAddr is a loopback address nobody listens on (for --debug-addr).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// neverReadIndex opens n connections that each ask for the index and never
// read the answer; close says whether to ask the daemon to close after it.
func neverReadIndex(t *testing.T, addr string, n int, closeAfter bool) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for i := range n {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		accept := "text/html"
		if i%2 == 0 {
			accept = "application/json"
		}
		req := "GET /?limit=1 HTTP/1.1\r\nHost: " + addr + "\r\nAccept: " + accept + "\r\n"
		if closeAfter {
			req += "Connection: close\r\n"
		}
		if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
	}
	return conns
}

// TestIndexUnderLoad: 20,000 files, and 100 requests for the index that never
// read their answer, twice: once closed as soon as the daemon has them (their
// walks must stop with them), once left to be answered (they must share one
// walk). Each time the daemon's goroutines and descriptors come back to where
// they were, its peak memory stays small, and afterwards it still answers
// /healthz, lists the files and streams to a normal client.
func TestIndexUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and writes 20,000 files")
	}
	const files, clients = 20_000, 100
	const peakLimit = 128.0 // MiB
	root := t.TempDir()
	for d := range files / 1000 {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.log", i)), []byte("x\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	app := filepath.Join(root, "app.log")
	os.WriteFile(app, []byte("first\n"), 0o644)

	bin := testutil.BuildDaemon(t, "")
	debug := freeAddr(t)
	cmd, addr := testutil.StartBinary(t, bin, "--root", root, "--debug-addr", debug)
	p := daemonProc{t: t, pid: cmd.Process.Pid, debug: debug}
	testutil.WaitFor(t, "the debug server", waitForLimit, func() bool {
		resp, err := noKeepAlive.Get("http://" + debug + "/debug/pprof/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	// follow a file once: what the daemon starts once and keeps (the shared
	// inotify watcher) belongs in the baseline
	appURL := "ws://" + addr + (&url.URL{Path: app}).EscapedPath() + "?tail=1&lines=1&format=text"
	warm := testutil.DialOK(t, appURL)
	readLines(t, warm, 1)
	warm.Close()
	for prev := -1; ; { // settled: the same count twice in a row
		n := p.goroutines()*1000 + p.fds()
		if n == prev {
			break
		}
		prev = n
		// the window looked through: nothing in another process signals
		// its last goroutine or descriptor
		time.Sleep(100 * time.Millisecond)
	}
	g0, fd0, cpu0 := p.goroutines(), p.fds(), p.cpu()
	t.Logf("start: %d goroutines, %d descriptors, RSS %.1f MiB, CPU %v", g0, fd0, p.mem("VmRSS"), cpu0)
	backToStart := func(t *testing.T, what string) {
		t.Helper()
		var g, fd int
		if !testutil.Eventually(waitForLimit, func() bool {
			g, fd = p.goroutines(), p.fds()
			return g <= g0 && fd <= fd0
		}) {
			t.Fatalf("%s: %d goroutines (start %d), %d descriptors (start %d)", what, g, g0, fd, fd0)
		}
	}

	t.Run("clients that leave", func(t *testing.T) {
		conns := neverReadIndex(t, addr, clients, false)
		testutil.WaitFor(t, "the daemon to take every request", waitForLimit, func() bool { return p.goroutines() >= g0+clients })
		for _, nc := range conns {
			nc.Close()
		}
		closed := p.cpu()
		backToStart(t, "after the clients left")
		t.Logf("%d clients gone: RSS %.1f MiB, peak %.1f MiB, CPU %v in all (%v after they closed)",
			clients, p.mem("VmRSS"), p.mem("VmHWM"), p.cpu()-cpu0, p.cpu()-closed)
	})

	t.Run("clients answered", func(t *testing.T) {
		before := p.cpu()
		conns := neverReadIndex(t, addr, clients, true)
		// each answered and closed by the daemon, though never read
		backToStart(t, "after the answers")
		t.Logf("%d clients answered: RSS %.1f MiB, peak %.1f MiB, CPU %v for them", clients, p.mem("VmRSS"), p.mem("VmHWM"), p.cpu()-before)
		for _, nc := range conns {
			nc.Close()
		}
	})

	if peak := p.mem("VmHWM"); peak > peakLimit {
		t.Errorf("peak RSS %.1f MiB, want under %.0f MiB", peak, peakLimit)
	}

	// a normal client afterwards
	resp, err := noKeepAlive.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/?limit=1", nil)
	req.Header.Set("Accept", "application/json")
	resp, err = noKeepAlive.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Total     int  `json:"total"`
		Truncated bool `json:"truncated"`
	}
	json.NewDecoder(resp.Body).Decode(&l)
	resp.Body.Close()
	if l.Total != files+1 || l.Truncated {
		t.Errorf("index: total %d, truncated %v; want %d files", l.Total, l.Truncated, files+1)
	}
	c := testutil.DialOK(t, appURL)
	readLines(t, c, 1)
	f, _ := os.OpenFile(app, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("served\n")
	f.Close()
	if got := readLines(t, c, 1)[0]; got != "served\n" {
		t.Errorf("stream after: %q", got)
	}
	c.Close()
	backToStart(t, "after the normal client")
}
