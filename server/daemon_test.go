package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"

	"github.com/logtail/logtail/wsconn"
)

// testDaemon is a real daemon on 127.0.0.1:0 serving one temporary root.
type testDaemon struct {
	t    *testing.T
	d    *Daemon
	addr string
	root string
	stop context.CancelFunc
	done chan error
}

type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func startDaemon(t *testing.T, tweak ...func(*Config)) *testDaemon {
	t.Helper()
	return startDaemonAt(t, t.TempDir(), "127.0.0.1:0", tweak...)
}

// restartDaemon stops td and starts a new daemon on the same root and port.
func restartDaemon(t *testing.T, td *testDaemon) *testDaemon {
	t.Helper()
	td.shutdown()
	return startDaemonAt(t, td.root, td.addr)
}

func startDaemonAt(t *testing.T, root, addr string, tweak ...func(*Config)) *testDaemon {
	t.Helper()
	cfg := Config{
		Roots:             []string{root},
		HeartbeatInterval: 30 * time.Second,
		HeartbeatTimeout:  10 * time.Second,
		MaxLines:          10000,
		MaxLineBytes:      1 << 20,
		Grace:             time.Second,
		PollInterval:      time.Second,
		Logger:            slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: testLogLevel})),
	}
	for _, f := range tweak {
		f(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	td := &testDaemon{t: t, d: d, addr: ln.Addr().String(), root: root, stop: cancel, done: make(chan error, 1)}
	go func() { td.done <- d.Serve(ctx, ln) }()
	t.Cleanup(td.shutdown)
	return td
}

func (td *testDaemon) shutdown() {
	td.stop()
	if err := <-td.done; err != nil {
		td.t.Errorf("Serve: %v", err)
	}
	td.done <- nil // a second shutdown returns at once
	td.d.Close()
}

// write creates or appends to a file under the root and returns its path.
func (td *testDaemon) write(name, content string) string {
	td.t.Helper()
	p := filepath.Join(td.root, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		td.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		td.t.Fatal(err)
	}
	return p
}

func (td *testDaemon) url(path, query string) string {
	u := "ws://" + td.addr + path
	if query != "" {
		u += "?" + query
	}
	return u
}

func (td *testDaemon) dial(path, query string, opt ...wsconn.DialOptions) *wsconn.Client {
	td.t.Helper()
	var o wsconn.DialOptions
	if len(opt) > 0 {
		o = opt[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsconn.Dial(ctx, td.url(path, query), o)
	if err != nil {
		td.t.Fatalf("dial %s?%s: %v", path, query, err)
	}
	td.t.Cleanup(func() { c.Close() })
	return c
}

// readLines reads until n lines have arrived.
func readLines(t *testing.T, c *wsconn.Client, n int) []string {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var lines []string
	for len(lines) < n {
		msg, err := c.Next()
		if err != nil {
			t.Fatalf("after %d of %d lines: %v", len(lines), n, err)
		}
		if len(msg) == 0 || msg[len(msg)-1] != '\n' {
			t.Fatalf("frame does not end with a complete line: %q", msg)
		}
		parts := strings.SplitAfter(string(msg), "\n")
		lines = append(lines, parts[:len(parts)-1]...)
	}
	return lines
}

func numbered(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

func TestLastLinesThenClose(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", numbered(1, 30)+"partial without newline")
	tests := []struct {
		query string
		want  string
	}{
		{"", numbered(21, 30)},
		{"lines=3", numbered(28, 30)},
		{"lines=0", ""},
		{"lines=100", numbered(1, 30)},
		{"lines=5&format=text", numbered(26, 30)},
		{"lines=2&tail=0&format=html", numbered(29, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := testutil.ReadAll(t, td.dial(p, tt.query))
			if !wsconn.IsClose(err, 1000) {
				t.Fatalf("stream ended with %v, want close 1000", err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFollowSendsAppendedLines(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", numbered(1, 20))
	c := td.dial(p, "lines=5&tail=1&format=text")
	got := readLines(t, c, 5)
	if strings.Join(got, "") != numbered(16, 20) {
		t.Fatalf("last lines: %q", got)
	}
	td.write("app.log", "line 21\nline 22 is writ")
	td.write("app.log", "ten in two parts\n")
	got = readLines(t, c, 2)
	if want := "line 21\nline 22 is written in two parts\n"; strings.Join(got, "") != want {
		t.Fatalf("followed: %q, want %q", got, want)
	}
}

// TestFollowSeam appends lines while clients connect: each must see one
// unbroken sequence, whatever the moment it joined.
func TestFollowSeam(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", numbered(1, 1))
	const total = 3000
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 2; i <= total; i++ {
			td.write("app.log", fmt.Sprintf("line %d\n", i))
		}
	}()
	for range 5 {
		c := td.dial(p, "lines=1&tail=1&format=text")
		first := readLines(t, c, 1)
		var start int
		if _, err := fmt.Sscanf(first[0], "line %d", &start); err != nil {
			t.Fatalf("first line %q", first[0])
		}
		// the first message may hold more lines than the one asked for
		all := append(first, readLines(t, c, total-start+1-len(first))...)
		if len(all) != total-start+1 {
			t.Fatalf("client joining at %d: %d lines, want %d", start, len(all), total-start+1)
		}
		for i, l := range all {
			if want := fmt.Sprintf("line %d\n", start+i); l != want {
				t.Fatalf("client joining at %d: line %d is %q, want %q", start, i, l, want)
			}
		}
		c.Close()
	}
	<-writerDone
}

func TestRefusedBeforeUpgrade(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "x\n")
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.log"), []byte("secret\n"), 0o644)
	os.Symlink(filepath.Join(outside, "secret.log"), filepath.Join(td.root, "escape.log"))
	os.Mkdir(filepath.Join(td.root, "dir"), 0o755)
	tests := []struct {
		name, rawPath, query string
		header               http.Header
		status               int
	}{
		{"outside the roots", "/etc/passwd", "", nil, 403},
		{"dot dot", td.root + "/../../etc/passwd", "", nil, 400},
		{"encoded dot dot", td.root + "/%2e%2e/%2e%2e/etc/passwd", "", nil, 400},
		{"double encoded", td.root + "/%252e%252e/x", "", nil, 400},
		{"nul byte", p + "%00", "", nil, 400},
		{"symlink escaping", td.root + "/escape.log", "", nil, 403},
		{"directory, download", td.root + "/dir", "download=1", nil, 400}, // a directory is a stream of its files (set_test.go), not one file
		{"missing", td.root + "/nope.log", "", nil, 404},
		{"missing, following", td.root + "/nope.log", "tail=1", nil, 404},
		{"negative lines", p, "lines=-1", nil, 400},
		{"lines not a number", p, "lines=abc", nil, 400},
		{"huge lines", p, "lines=99999999999999999999", nil, 400},
		{"unknown format", p, "format=xml", nil, 400},
		{"repeated lines", p, "lines=1&lines=2", nil, 400},
		{"bad tail", p, "tail=yes", nil, 400},
		{"from without tail", p, "from=1:2:3", nil, 400},
		{"foreign origin", p, "", http.Header{"Origin": {"http://evil.example"}}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			u := "ws://" + td.addr + tt.rawPath
			if tt.query != "" {
				u += "?" + tt.query
			}
			c, err := wsconn.Dial(ctx, u, wsconn.DialOptions{Header: tt.header})
			if err == nil {
				c.Close()
				t.Fatalf("handshake accepted, want %d", tt.status)
			}
			var he *wsconn.HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("dial: %v, want a refused handshake", err)
			}
			if he.Status != tt.status || he.Reason == "" {
				t.Errorf("got %d %q, want %d with a reason", he.Status, he.Reason, tt.status)
			}
		})
	}
	// the daemon still serves, and nothing was left open by the refusals
	got, err := testutil.ReadAll(t, td.dial(p, ""))
	if got != "x\n" || !wsconn.IsClose(err, 1000) {
		t.Fatalf("after refusals: %q, %v", got, err)
	}
	// a refused follow stops its follower once released, on its own goroutine
	testutil.WaitFor(t, "no follower left running", waitForLimit, func() bool { return td.d.hub.Followers() == 0 })
}

func TestLargeMixedContent(t *testing.T) {
	td := startDaemon(t)
	long := strings.Repeat("ab<", 200_000/3)
	p := td.write("odd.log", "before\n"+long+"\nnul\x00byte\nbad \xff\xfe utf8\n\x1b[31mred <b>\x1b[0m\nafter\n")
	for _, format := range []string{"text", "html"} {
		t.Run(format, func(t *testing.T) {
			got, err := testutil.ReadAll(t, td.dial(p, "lines=10&format="+format))
			if !wsconn.IsClose(err, 1000) {
				t.Fatalf("closed with %v", err)
			}
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			if len(lines) != 6 || lines[0] != "before" || lines[5] != "after" {
				t.Fatalf("got %d lines: first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
			}
			switch format {
			case "text":
				if lines[1] != long || lines[2] != "nul\x00byte" || lines[3] != "bad \ufffd\ufffd utf8" || lines[4] != "\x1b[31mred <b>\x1b[0m" {
					t.Errorf("text lines changed: %q", lines[2:5])
				}
			case "html":
				if strings.Count(lines[1], "&lt;") != len(long)/3 || strings.Contains(got, "<b>") {
					t.Errorf("HTML not escaped")
				}
				if !strings.Contains(lines[4], `<span class="term-fg31">red &lt;b&gt;</span>`) {
					t.Errorf("colour line rendered as %q", lines[4])
				}
			}
		})
	}
}

func TestHTMLColourSpansLines(t *testing.T) {
	td := startDaemon(t)
	p := td.write("c.log", "\x1b[32mgreen starts\n")
	c := td.dial(p, "lines=1&tail=1")
	readLines(t, c, 1)
	td.write("c.log", "still green\x1b[0m plain\n")
	got := readLines(t, c, 1)[0]
	if want := `<span class="term-fg32">still green</span> plain` + "\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHeartbeat(t *testing.T) {
	const interval, timeout = 200 * time.Millisecond, 200 * time.Millisecond
	td := startDaemon(t, func(c *Config) { c.HeartbeatInterval, c.HeartbeatTimeout = interval, timeout })
	p := td.write("app.log", "x\n")

	t.Run("silent peer is closed", func(t *testing.T) {
		// the daemon's clock starts before the handshake answer reaches us
		start := time.Now()
		c := td.dial(p, "lines=0&tail=1")
		// the client reads nothing, so it answers no ping: a dead peer
		testutil.WaitFor(t, "the stream to end", waitForLimit, func() bool { return td.d.hub.Followers() == 0 })
		if elapsed := time.Since(start); elapsed < interval+timeout {
			t.Errorf("closed after %v, before interval+timeout", elapsed)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Next(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the connection is still open: %v", err)
		}
	})
	t.Run("answering peer stays", func(t *testing.T) {
		// through a relay that counts the pongs the client sends
		relay := relayPongs(t, td.addr)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := wsconn.Dial(ctx, "ws://"+relay.addr+p+"?lines=0&tail=1", wsconn.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Next answers pings; after 5 of them the stream must still deliver
		done := make(chan error, 1)
		go func() {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			msg, err := c.Next()
			if err == nil && string(msg) != "late line\n" {
				err = fmt.Errorf("got %q", msg)
			}
			done <- err
		}()
		testutil.WaitFor(t, "5 pongs", waitForLimit, func() bool { return relay.pongs.Load() >= 5 })
		td.write("app.log", "late line\n")
		if err := <-done; err != nil {
			t.Fatalf("answering peer: %v", err)
		}
	})
}

func TestShutdownClosesWith1001(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", "x\n")
	c := td.dial(p, "lines=1&tail=1")
	readLines(t, c, 1)
	td.stop()
	_, err := testutil.ReadAll(t, c)
	if !wsconn.IsClose(err, 1001) {
		t.Fatalf("got %v, want close 1001", err)
	}
}

func TestNonWebSocketRequest(t *testing.T) {
	td := startDaemon(t)
	resp, err := http.Get("http://" + td.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("healthz: %d %q", resp.StatusCode, body)
	}
}

// TestDemoLogs reads the bundled demo logs as the README's run command serves them.
func TestDemoLogs(t *testing.T) {
	demo, err := filepath.Abs("../testdata/logs")
	if err != nil {
		t.Fatal(err)
	}
	td := startDaemon(t, func(c *Config) { c.Roots = []string{demo} })
	t.Run("colours and escaping", func(t *testing.T) {
		got, err := testutil.ReadAll(t, td.dial(demo+"/app.log", "lines=5"))
		if !wsconn.IsClose(err, 1000) {
			t.Fatalf("closed with %v", err)
		}
		for _, want := range []string{`<span class="term-fg31">ERROR</span>`, `&lt;script&gt;alert(1)&lt;/script&gt;`,
			`<span class="term-fg35 term-fg1">2026-11-23T10:38:00Z still magenta from the line before</span>, then plain`, "你好"} {
			if !strings.Contains(got, want) {
				t.Errorf("missing %q in:\n%s", want, got)
			}
		}
		if strings.Contains(got, "<script>") || strings.Contains(got, "\x1b") {
			t.Errorf("unescaped markup or raw escape codes:\n%s", got)
		}
	})
	t.Run("long line", func(t *testing.T) {
		got, _ := testutil.ReadAll(t, td.dial(demo+"/long-line.log", "format=text"))
		lines := strings.Split(got, "\n")
		if len(lines) != 4 || len(lines[1]) != 200_000+len(" end of a 200 kB line") {
			t.Errorf("got %d lines, the long one %d bytes", len(lines), len(lines[1]))
		}
	})
	t.Run("invalid UTF-8", func(t *testing.T) {
		got, _ := testutil.ReadAll(t, td.dial(demo+"/bad-utf8.log", "format=text"))
		if want := "valid line one\nbad bytes: \ufffd\ufffd\ufffd here\nnul byte:\x00 here\ncrlf line\r\nlast line\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

// testLogLevel is the daemon's log level in tests (LOGTAILD_TEST_LOG=debug for more).
var testLogLevel = func() slog.Level {
	if os.Getenv("LOGTAILD_TEST_LOG") == "debug" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}()

var waitForLimit = 10 * time.Second
