package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wsconn"
)

// rlBuffer is a log buffer written by the daemon and read by the test.
type rlBuffer struct{ testutil.SyncBuffer }

// records are the JSON log lines whose msg is msg.
func (b *rlBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// rlDaemon is a real daemon on 127.0.0.1:0 whose JSON log goes to a buffer.
type rlDaemon struct {
	d    *Daemon
	addr string
	root string
	logs *rlBuffer
	stop func() // shuts it down and closes it; once
}

func startRLDaemon(t *testing.T, tweak func(*Config)) *rlDaemon {
	t.Helper()
	td := &rlDaemon{root: t.TempDir(), logs: new(rlBuffer)}
	cfg := Config{
		Roots:             []string{td.root},
		HeartbeatInterval: 30 * time.Second,
		HeartbeatTimeout:  10 * time.Second,
		MaxLines:          10000,
		MaxLineBytes:      1 << 20,
		Grace:             time.Second,
		PollInterval:      time.Second,
		Logger:            slog.New(slog.NewJSONHandler(td.logs, nil)),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	td.d, td.addr = d, ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	var once sync.Once
	td.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			d.Close()
		})
	}
	t.Cleanup(td.stop)
	return td
}

func (td *rlDaemon) write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(td.root, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rlGet makes a plain HTTP request and returns its status.
func rlGet(t *testing.T, method, url string, tweak func(*http.Request)) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// rlDial opens a stream that must be refused, and returns the status.
func rlDial(t *testing.T, url string, h http.Header) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsconn.Dial(ctx, url, wsconn.DialOptions{Header: h})
	var he *wsconn.HandshakeError
	if !errors.As(err, &he) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial %s: %v, want a refusal", url, err)
	}
	return he.Status
}

// Every kind of refusal is logged at info with its status, reason, remote
// address and path, once, and never with the query or the token.
func TestRefusalLogged(t *testing.T) {
	const token, sentToken = "the-real-token-71c2", "secret"
	cases := []struct {
		name   string
		tweak  func(*Config)
		do     func(t *testing.T, td *rlDaemon, p string) int
		status int
		path   string // "" the file's
		reason string // in the logged reason
		stream bool
	}{
		{"wrong token in the query", func(c *Config) { c.Token = token }, func(t *testing.T, td *rlDaemon, p string) int {
			return rlDial(t, "ws://"+td.addr+p+"?lines=1&token="+sentToken, nil)
		}, 401, "", "?token= is not it", true},
		{"no token on a page", func(c *Config) { c.Token = token }, func(t *testing.T, td *rlDaemon, p string) int {
			return rlGet(t, "GET", "http://"+td.addr+p, nil)
		}, 401, "", "none given", false},
		{"wrong bearer for metrics", func(c *Config) { c.MetricsToken = token }, func(t *testing.T, td *rlDaemon, p string) int {
			return rlGet(t, "GET", "http://"+td.addr+"/metrics?token="+sentToken, func(r *http.Request) {
				r.Header.Set("Authorization", "Bearer "+sentToken)
			})
		}, 401, "/metrics", "Authorization header", false},
		{"foreign origin", nil, func(t *testing.T, td *rlDaemon, p string) int {
			return rlDial(t, "ws://"+td.addr+p+"?token="+sentToken, http.Header{"Origin": {"https://evil.example"}})
		}, 403, "", "--allow-origin https://evil.example", true},
		{"bad query", nil, func(t *testing.T, td *rlDaemon, p string) int {
			return rlDial(t, "ws://"+td.addr+p+"?lines=abc&token="+sentToken, nil)
		}, 400, "", "lines=", true},
		{"missing file", nil, func(t *testing.T, td *rlDaemon, p string) int {
			return rlDial(t, "ws://"+td.addr+p+".missing?token="+sentToken, nil)
		}, 404, "", "", true},
		{"missing file page", nil, func(t *testing.T, td *rlDaemon, p string) int {
			return rlGet(t, "GET", "http://"+td.addr+p+".missing?token="+sentToken, nil)
		}, 404, "", "", false},
		{"outside the roots", nil, func(t *testing.T, td *rlDaemon, p string) int {
			return rlDial(t, "ws://"+td.addr+"/etc/passwd?token="+sentToken, nil)
		}, 403, "/etc/passwd", "", true},
		{"unknown Host", nil, func(t *testing.T, td *rlDaemon, p string) int {
			return rlGet(t, "GET", "http://"+td.addr+p+"?token="+sentToken, func(r *http.Request) { r.Host = "rebind.evil.example" })
		}, 421, "", "rebind.evil.example", false},
		{"no such asset", nil, func(t *testing.T, td *rlDaemon, p string) int {
			return rlGet(t, "GET", "http://"+td.addr+"/_logtail/nope.js?token="+sentToken, nil)
		}, 404, "/_logtail/nope.js", "no such asset", false},
		{"page with POST", nil, func(t *testing.T, td *rlDaemon, p string) int {
			return rlGet(t, "POST", "http://"+td.addr+"/?token="+sentToken, nil)
		}, 405, "/", "GET", false},
		{"bad index parameter", nil, func(t *testing.T, td *rlDaemon, p string) int {
			return rlGet(t, "GET", "http://"+td.addr+"/?limit=x&token="+sentToken, nil)
		}, 400, "/", "limit", false},
		{"too many streams", func(c *Config) { c.MaxStreams = 1 }, func(t *testing.T, td *rlDaemon, p string) int {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := wsconn.Dial(ctx, "ws://"+td.addr+p+"?tail=1", wsconn.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			return rlDial(t, "ws://"+td.addr+p+"?tail=1&token="+sentToken, nil)
		}, 503, "", "too many streams", true},
		{"bad WebSocket version", nil, func(t *testing.T, td *rlDaemon, p string) int {
			return rlGet(t, "GET", "http://"+td.addr+p+"?token="+sentToken, func(r *http.Request) {
				r.Header.Set("Upgrade", "websocket")
				r.Header.Set("Connection", "Upgrade")
				r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
				r.Header.Set("Sec-WebSocket-Version", "99")
			})
		}, 426, "", "Sec-WebSocket-Version", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			td := startRLDaemon(t, tc.tweak)
			p := td.write(t, "app.log", "one\ntwo\n")
			if got := tc.do(t, td, p); got != tc.status {
				t.Fatalf("status %d, want %d", got, tc.status)
			}
			td.stop() // what is held is logged by now
			recs := td.logs.records(t, "request refused")
			if len(recs) != 1 {
				t.Fatalf("%d refusal lines, want 1:\n%s", len(recs), td.logs.String())
			}
			rec := recs[0]
			wantPath := tc.path
			if wantPath == "" {
				wantPath = p
				if tc.status == 404 {
					wantPath = p + ".missing"
				}
			}
			reason, _ := rec["reason"].(string)
			remote, _ := rec["remote"].(string)
			if rec["level"] != "INFO" || rec["status"] != float64(tc.status) || rec["path"] != wantPath ||
				!strings.HasPrefix(remote, "127.0.0.1:") || reason == "" || !strings.Contains(reason, tc.reason) ||
				rec["stream"] != tc.stream {
				t.Errorf("logged %v\nwant level INFO, status %d, path %q, remote 127.0.0.1:…, stream %v, a reason with %q",
					rec, tc.status, wantPath, tc.stream, tc.reason)
			}
			all := td.logs.String()
			for _, secret := range []string{sentToken, token, "lines=", "limit=", "?"} {
				if strings.Contains(all, secret) && !strings.Contains(reason, secret) {
					t.Errorf("the log holds %q:\n%s", secret, all)
				}
			}
			if strings.Contains(all, sentToken) || strings.Contains(all, token) {
				t.Errorf("the log holds a token:\n%s", all)
			}
		})
	}
}

// A burst of refusals is a bounded number of lines, and every refusal is
// counted: the lines plus their repeats_not_logged are the refusals.
func TestRefusalLogBurst(t *testing.T) {
	td := startRLDaemon(t, func(c *Config) { c.Token = "tok-9" })
	p := td.write(t, "app.log", "x\n")
	const n = 100
	start := time.Now()
	for i := 0; i < n; i++ {
		if got := rlGet(t, "GET", "http://"+td.addr+p+"?token=secret", nil); got != 401 {
			t.Fatalf("request %d: %d, want 401", i, got)
		}
	}
	elapsed := time.Since(start)
	count := func() (lines, refusals int) {
		for _, rec := range td.logs.records(t, "request refused") {
			if rec["status"] != float64(401) {
				t.Errorf("status %v", rec["status"])
			}
			lines++
			refusals++
			if k, ok := rec["repeats_not_logged"].(float64); ok {
				refusals += int(k)
			}
		}
		return
	}
	// the held ones come out when the interval is up, without another refusal
	var lines, refusals int
	testutil.Eventually(5*time.Second, func() bool {
		lines, refusals = count()
		return refusals >= n
	})
	if refusals != n {
		t.Fatalf("%d refusals accounted for, want %d:\n%s", refusals, n, td.logs.String())
	}
	if most := 2 + int(elapsed/refusalLogInterval); lines > most {
		t.Errorf("%d lines for %d refusals in %v, want at most %d", lines, n, elapsed, most)
	}
	if strings.Contains(td.logs.String(), "secret") {
		t.Errorf("the log holds the token sent")
	}
}

func TestRateLog(t *testing.T) {
	var buf rlBuffer
	const interval = 200 * time.Millisecond
	rl := newRateLog(slog.New(slog.NewJSONHandler(&buf, nil)), slog.LevelInfo, interval)
	for i := 0; i < 10; i++ {
		rl.add("a", "m", "i", i)
	}
	rl.add("b", "m", "i", 100)
	recs := buf.records(t, "m")
	if len(recs) != 2 || recs[0]["i"] != float64(0) || recs[1]["i"] != float64(100) {
		t.Fatalf("first lines %v, want a's first and b's", recs)
	}
	// the held line comes out when the interval is up
	testutil.WaitFor(t, "a's held line", waitForLimit, func() bool { return len(buf.records(t, "m")) >= 3 })
	recs = buf.records(t, "m")
	if len(recs) != 3 || recs[2]["i"] != float64(9) || recs[2]["repeats_not_logged"] != float64(8) {
		t.Fatalf("after the interval %v, want a's last with 8 not logged", recs)
	}
	rl.add("a", "m", "i", 10) // within the interval of the line just logged: held
	rl.close()
	rl.add("a", "m", "i", 11) // closed: nothing
	// an absence: nothing may come once an interval is up after the close,
	// and only waiting that long shows it
	time.Sleep(interval + interval/2)
	recs = buf.records(t, "m")
	if len(recs) != 4 || recs[3]["i"] != float64(10) || recs[3]["repeats_not_logged"] != nil {
		t.Fatalf("after close %v, want the held line once, nothing after", recs)
	}
}
