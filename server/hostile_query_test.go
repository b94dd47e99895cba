package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// Hostile handshakes: odd Origins, odd queries and a request line too long
// to read, each answered before or by the upgrade.

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
