package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// "stream opened" says what the client asked for: lines=N for a new stream,
// from=POS (and no lines) for a resume.
func TestStreamOpenedLogsFrom(t *testing.T) {
	td := startRLDaemon(t, nil)
	p := td.write(t, "app.log", "one\ntwo\nthree\n")
	dial := func(query string) *wsconn.Client {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := wsconn.Dial(ctx, "ws://"+td.addr+p+"?"+query, wsconn.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := dial("lines=2&tail=1&format=json")
	c.SetDeadline(time.Now().Add(10 * time.Second))
	data, err := c.Next()
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.Decode(data)
	if err != nil || m.Pos == "" {
		t.Fatalf("first message %q: %v", data, err)
	}
	c.Close()
	r := dial("tail=1&format=json&from=" + m.Pos)
	r.Close()
	td.stop()

	recs := td.logs.records(t, "stream opened")
	if len(recs) != 2 {
		t.Fatalf("%d stream opened lines, want 2:\n%s", len(recs), td.logs.String())
	}
	if fresh := recs[0]; fresh["lines"] != float64(2) || fresh["from"] != nil || fresh["path"] != p || fresh["tail"] != true {
		t.Errorf("a new stream logged %v, want lines=2, no from", fresh)
	}
	if resumed := recs[1]; resumed["from"] != m.Pos || resumed["lines"] != nil || resumed["path"] != p || resumed["format"] != "json" {
		t.Errorf("a resumed stream logged %v, want from=%s and no lines", resumed, m.Pos)
	}
}

func TestCheckOrigin(t *testing.T) {
	good := map[string]string{
		"https://app.example.com":       "https://app.example.com",
		"https://app.example.com/":      "https://app.example.com",
		"HTTPS://App.Example.com:8443":  "https://app.example.com:8443",
		"https://app.example.com:443":   "https://app.example.com", // browsers leave the default port out
		"http://app.example.com:80/":    "http://app.example.com",
		"http://10.0.0.5:8080":          "http://10.0.0.5:8080",
		"http://[::1]:3000":             "http://[::1]:3000",
		" https://padded.example.com ":  "https://padded.example.com",
		"https://[2001:db8::1]:443":     "https://[2001:db8::1]",
		"http://localhost:5173":         "http://localhost:5173",
		"https://xn--bcher-kva.example": "https://xn--bcher-kva.example",
	}
	for in, want := range good {
		if err := CheckOrigin(in); err != nil {
			t.Errorf("CheckOrigin(%q): %v", in, err)
		}
		if got, err := canonOrigin(in); got != want || err != nil {
			t.Errorf("canonOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{ // the value: what the error says to write or do
		"*":                                "wildcards are not supported",
		"https://*.example.com":            "wildcards are not supported",
		"app.example.com":                  "write https://app.example.com",
		"app.example.com:8443":             "write https://app.example.com:8443",
		"wss://app.example.com":            "write https://app.example.com",
		"ws://app.example.com:8080":        "write http://app.example.com:8080",
		"file:///tmp/x.html":               "http:// or https://",
		"null":                             "want scheme://host[:port]",
		"https://app.example.com/logs":     "write https://app.example.com",
		"https://app.example.com/?a=b":     "write https://app.example.com",
		"https://app.example.com?":         "write https://app.example.com",
		"https://app.example.com#top":      "write https://app.example.com",
		"https://user:pw@app.example.com":  "write https://app.example.com",
		"https://":                         "no host",
		"https://app.example.com:":         "write https://app.example.com",
		"https://app.example.com:99999":    "port",
		"https://app.example.com:0":        "port",
		"https://app.example.com:http":     "want scheme://host[:port]",
		"https://app.example.com/ https:b": "write https://app.example.com",
	}
	for in, want := range bad {
		err := CheckOrigin(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "--allow-origin ") {
			t.Errorf("CheckOrigin(%q): %v, want an --allow-origin error saying %q", in, err, want)
		}
	}
}

// New refuses an --allow-origin that could never match, and serves one
// written with a trailing slash or a default port to the browsers' Origin.
func TestNewChecksOrigins(t *testing.T) {
	for _, o := range []string{"*", "app.example.com", "https://app.example.com/logs"} {
		d, err := New(Config{Roots: []string{t.TempDir()}, AllowOrigins: []string{"https://ok.example", o}})
		if err == nil {
			d.Close()
			t.Errorf("New with --allow-origin %q: no error", o)
		} else if !strings.Contains(err.Error(), "--allow-origin") {
			t.Errorf("New with --allow-origin %q: %v", o, err)
		}
	}
	td := startRLDaemon(t, func(c *Config) {
		c.AllowOrigins = []string{"https://App.example:443/", "", "http://other.example:8080"}
	})
	p := td.write(t, "app.log", "x\n")
	for origin, want := range map[string]int{
		"https://app.example":        101,
		"http://other.example:8080":  101,
		"https://app.example:443":    403, // not what a browser sends
		"http://app.example":         403,
		"https://evil.example":       403,
		"http://other.example:8081/": 403,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := wsconn.Dial(ctx, "ws://"+td.addr+p+"?lines=0", wsconn.DialOptions{Header: map[string][]string{"Origin": {origin}}})
		cancel()
		got := 101
		if err != nil {
			var he *wsconn.HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("Origin %s: %v", origin, err)
			}
			got = he.Status
		} else {
			c.Close()
		}
		if got != want {
			t.Errorf("Origin %s: %d, want %d", origin, got, want)
		}
	}
}
