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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"

	"github.com/logtail/logtail/wsconn"
)

// Resource limits (issue 13): what one client, or a crowd of them, can make
// the daemon hold, and that it survives and still serves. These run the
// built binary, under prlimit-style limits where a limit is the point.

// limited is the daemon binary run under prlimit, with its log kept.
type limited struct {
	cmd  *exec.Cmd
	addr string
	root string
	mu   sync.Mutex
	log  []string
}

// needPrlimit skips t without prlimit (util-linux), or fails it in CI,
// where scripts/test installs it.
func needPrlimit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("prlimit"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("prlimit is needed (scripts/test installs util-linux): %v", err)
		}
		t.Skipf("prlimit: %v", err)
	}
}

// startLimited runs bin under prlimit with limits (e.g. "--nofile=256") on
// a fresh root, and waits for it to serve.
func startLimited(t *testing.T, bin string, limits []string, args ...string) *limited {
	t.Helper()
	needPrlimit(t)
	l := &limited{root: t.TempDir()}
	argv := append(limits, "--", bin, "--addr", "127.0.0.1:0", "--log-format", "json", "--root", l.root)
	l.cmd = exec.Command("prlimit", append(argv, args...)...)
	l.cmd.Env = []string{}
	stderr, logw := io.Pipe()
	l.cmd.Stderr = logw
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			l.mu.Lock()
			l.log = append(l.log, line)
			l.mu.Unlock()
			if _, rest, ok := strings.Cut(line, `"msg":"serving","addr":"`); ok {
				addr, _, _ := strings.Cut(rest, `"`)
				addrc <- addr
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		if l.cmd.ProcessState == nil {
			l.cmd.Process.Kill()
			l.cmd.Wait()
		}
		logw.Close()
		<-done
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.log) > 40 { // the log of a crowd: the start and the end
			l.log = append(append(l.log[:20:20], fmt.Sprintf("… %d lines …", len(l.log)-40)), l.log[len(l.log)-20:]...)
		}
		for _, line := range l.log {
			t.Log(line)
		}
	})
	select {
	case l.addr = <-addrc:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not start")
		return nil
	}
}

// logLines counts the lines of the daemon's log that contain s.
func (l *limited) logLines(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.log {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// fds is how many descriptors the daemon has open now.
func (l *limited) fds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", l.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// accepted reports whether the daemon holds a descriptor on the server side
// of nc: /proc/net/tcp names the socket whose peer is nc's local address, and
// the daemon's descriptors say whether it is one of them. (Counting
// descriptors would miss an accept that happened as another closed.)
func (l *limited) accepted(t *testing.T, nc net.Conn) bool {
	t.Helper()
	local := nc.LocalAddr().(*net.TCPAddr)
	peer := fmt.Sprintf("%08X:%04X", binary.LittleEndian.Uint32(local.IP.To4()), local.Port)
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	inode := ""
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && f[2] == peer && f[9] != "0" { // not an old TIME_WAIT one
			inode = f[9]
		}
	}
	if inode == "" {
		return false
	}
	dir := fmt.Sprintf("/proc/%d/fd", l.cmd.Process.Pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if target, _ := os.Readlink(filepath.Join(dir, e.Name())); target == "socket:["+inode+"]" {
			return true
		}
	}
	return false
}

// probe is a client that keeps no connection open between requests.
var probe = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// healthz asks /healthz once, within 10 s.
func (l *limited) healthz() error {
	resp, err := probe.Get("http://" + l.addr + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("/healthz: %s", resp.Status)
	}
	return nil
}

// goroutines is the daemon's go_goroutines.
func (l *limited) goroutines(t *testing.T) int {
	t.Helper()
	resp, err := probe.Get("http://" + l.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return int(metric(string(body), "go_goroutines"))
}

// follows opens a followed stream, appends a line and reads it: the daemon
// streams to a normal client.
func (l *limited) follows(t *testing.T, name string) {
	t.Helper()
	p := filepath.Join(l.root, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsconn.Dial(ctx, "ws://"+l.addr+p+"?lines=0&tail=1&format=text", wsconn.DialOptions{})
	if err != nil {
		t.Fatalf("a normal stream: %v", err)
	}
	defer c.Close()
	fmt.Fprintln(f, "still streaming")
	if got := readLines(t, c, 1)[0]; got != "still streaming\n" {
		t.Fatalf("a normal stream got %q", got)
	}
}

// baseline follows a file once (what the daemon starts once and keeps, such
// as its inotify instances, is then counted) and returns its goroutines and
// descriptors.
func (l *limited) baseline(t *testing.T) (goroutines, fds int) {
	t.Helper()
	l.follows(t, "warm-up.log")
	prev := -1
	for g := l.goroutines(t); g != prev; g = l.goroutines(t) {
		prev = g
		// the same count 50 ms apart is what settled means: nothing in
		// another process signals its last goroutine, so the sleep is the
		// window looked through
		time.Sleep(50 * time.Millisecond)
	}
	return prev, l.fds(t)
}

// survives checks that the daemon still answers /healthz and streams, and
// that its goroutines and descriptors come back to the baseline.
func (l *limited) survives(t *testing.T, g0, fd0 int) {
	t.Helper()
	if err := l.healthz(); err != nil {
		t.Fatalf("/healthz afterwards: %v", err)
	}
	l.follows(t, "after.log")
	var g, fd int
	if !testutil.Eventually(15*time.Second, func() bool {
		g, fd = l.goroutines(t), l.fds(t)
		return g <= g0 && fd <= fd0
	}) {
		t.Fatalf("daemon: goroutines %d (baseline %d), descriptors %d (baseline %d)", g, g0, fd, fd0)
	}
	t.Logf("daemon: goroutines %d (baseline %d), descriptors %d (baseline %d)", g, g0, fd, fd0)
}

// TestIdleKeepAlivesDoNotStarve: with 256 descriptors, 245 keep-alive
// connections that each did one /healthz and then sit idle must not make
// /healthz unreachable, nor flood the log with accept errors.
func TestIdleKeepAlivesDoNotStarve(t *testing.T) {
	l := startLimited(t, testutil.BuildDaemon(t, ""), []string{"--nofile=256"})
	g0, fd0 := l.baseline(t)
	var conns []net.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	for i := range 245 {
		nc, err := net.Dial("tcp", l.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(nc, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", l.addr)
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatalf("/healthz on keep-alive connection %d: %v", i+1, err)
		}
		resp.Body.Close()
	}
	if err := l.healthz(); err != nil {
		t.Fatalf("/healthz with 245 idle keep-alive connections: %v", err)
	}
	if n := l.logLines("too many open files"); n > 3 {
		t.Errorf("%d log lines about too many open files", n)
	}
	for _, nc := range conns {
		nc.Close()
	}
	conns = nil
	l.survives(t, g0, fd0)
}

// TestOutOfDescriptors: with every descriptor taken (by connections that
// never finish their request), a stream whose file cannot be opened is
// answered 503 with Retry-After, which logtail -F retries, not 403, which it
// takes as final; the log says so once, not once per accept; and the daemon
// serves again as soon as descriptors are free.
func TestOutOfDescriptors(t *testing.T) {
	const limit = 256
	l := startLimited(t, testutil.BuildDaemon(t, ""), []string{fmt.Sprintf("--nofile=%d", limit)})
	g0, fd0 := l.baseline(t)
	p := filepath.Join(l.root, "app.log")
	if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// a followed file, and a position in it to resume from: a resume needs
	// a descriptor of its own
	followed := filepath.Join(l.root, "followed.log")
	if err := os.WriteFile(followed, []byte("y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	fc, err := wsconn.Dial(ctx, "ws://"+l.addr+followed+"?lines=1&tail=1&format=json", wsconn.DialOptions{})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	fc.SetDeadline(time.Now().Add(10 * time.Second))
	first, err := fc.Next()
	if err != nil {
		t.Fatal(err)
	}
	_, pos, _ := strings.Cut(string(first), `"pos":"`)
	pos, _, _ = strings.Cut(pos, `"`)
	g1, fd1 := l.goroutines(t), l.fds(t)
	// Half a request each: every one holds a descriptor (for the 10 s of
	// ReadHeaderTimeout, long enough here).
	var held []net.Conn
	defer func() {
		for _, nc := range held {
			nc.Close()
		}
	}()
	for l.fds(t) < limit {
		nc, err := net.Dial("tcp", l.addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, nc)
		fmt.Fprintf(nc, "GET /healthz HTTP/1.1\r\nHo")
		testutil.WaitFor(t, fmt.Sprintf("the daemon to accept connection %d", len(held)), waitForLimit, func() bool {
			return l.accepted(t, nc) || l.fds(t) >= limit
		})
	}
	t.Logf("%d connections hold the daemon's %d descriptors", len(held), limit)
	for i, target := range []string{p + "?lines=1", p + "?lines=1&tail=1", followed + "?tail=1&format=json&from=" + pos} {
		nc, err := net.Dial("tcp", l.addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", target, l.addr)
		query := target[strings.IndexByte(target, '?'):]
		if i == 0 { // one descriptor free, for the connection
			held[0].Close()
			held = held[1:]
		}
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		nc.Close() // its descriptor is the next request's
		t.Logf("%s with no descriptor left: %d %q, Retry-After %q", query, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d %q, want 503 with Retry-After", query, resp.StatusCode, body)
		}
	}
	for _, nc := range held {
		nc.Close()
	}
	held = nil
	if n := l.logLines("too many open files"); n > 4 {
		t.Errorf("%d log lines about too many open files", n)
	}
	l.survives(t, g1, fd1)
	fc.Close()
	l.survives(t, g0, fd0)
}

// TestMaxStreamsFitsTheOpenFileLimit: without --max-streams, the daemon
// admits no more streams than its descriptors can hold, each on a file of
// its own; the next is refused as too many (503), not by a failed open, and
// those admitted keep streaming. An explicit --max-streams that cannot fit
// is refused at start.
func TestMaxStreamsFitsTheOpenFileLimit(t *testing.T) {
	needPrlimit(t)
	bin := testutil.BuildDaemon(t, "")
	t.Run("explicit value that cannot fit", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "prlimit", "--nofile=256", "--", bin, "--addr", "127.0.0.1:0", "--root", t.TempDir(), "--max-streams", "1000")
		cmd.Env = []string{}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "--max-streams 1000") || !strings.Contains(string(out), "RLIMIT_NOFILE") {
			t.Errorf("--max-streams 1000 with 256 open files: %v, %q; want exit 2 and a message naming both", err, out)
		}
		t.Logf("%s", out)
	})
	t.Run("derived", func(t *testing.T) {
		l := startLimited(t, bin, []string{"--nofile=256"})
		g0, fd0 := l.baseline(t)
		var streams []*wsconn.Client
		defer func() {
			for _, c := range streams {
				c.Close()
			}
		}()
		for i := 0; ; i++ {
			p := filepath.Join(l.root, fmt.Sprintf("app-%d.log", i))
			if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := wsconn.Dial(ctx, "ws://"+l.addr+p+"?lines=1&tail=1&format=text", wsconn.DialOptions{})
			cancel()
			var he *wsconn.HandshakeError
			if errors.As(err, &he) {
				t.Logf("stream %d on its own file: %d %s (daemon descriptors: %d)", i+1, he.Status, he.Reason, l.fds(t))
				if he.Status != http.StatusServiceUnavailable || !strings.Contains(he.Reason, "too many streams") {
					t.Errorf("refused with %d %q, want 503 too many streams", he.Status, he.Reason)
				}
				break
			}
			if err != nil {
				t.Fatalf("stream %d: %v", i+1, err)
			}
			streams = append(streams, c)
			readLines(t, c, 1)
		}
		if len(streams) < 50 {
			t.Errorf("only %d streams admitted with 256 descriptors", len(streams))
		}
		// the admitted streams still follow their files
		for i, c := range streams[len(streams)-3:] {
			p := filepath.Join(l.root, fmt.Sprintf("app-%d.log", len(streams)-3+i))
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(f, "more")
			f.Close()
			if got := readLines(t, c, 1)[0]; got != "more\n" {
				t.Errorf("stream %d got %q", len(streams)-3+i, got)
			}
		}
		for _, c := range streams {
			c.Close()
		}
		streams = nil
		l.survives(t, g0, fd0)
	})
}
