package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestHostPolicy(t *testing.T) {
	p, err := newHostPolicy([]string{"Logs.Example.com.", "*.corp.example"}, "myhost:8080")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"":                         true, // HTTP/1.0: not a browser
		"127.0.0.1:8080":           true,
		"10.1.2.3":                 true,
		"[::1]:8080":               true,
		"[fe80::1]":                true,
		"localhost:8080":           true,
		"LOCALHOST.":               true,
		"app.localhost:8080":       true,
		"myhost:9999":              true, // the listen address's name
		"logs.example.com:443":     true,
		"logs.example.com.":        true,
		"a.corp.example":           true,
		"a.b.corp.example:1":       true,
		"corp.example":             false,
		"xcorp.example":            false,
		"rebind.evil.example:8080": false,
		"logs.example.com.evil":    false,
		"localhost.evil.example":   false,
		"127.0.0.1.nip.io":         false,
	} {
		if got := p.allow(host); got != want {
			t.Errorf("allow(%q) = %v, want %v", host, got, want)
		}
	}
	any, err := newHostPolicy([]string{"*"}, "127.0.0.1:0")
	if err != nil || !any.allow("rebind.evil.example") {
		t.Errorf("--allow-host '*' refuses a name (%v)", err)
	}
	for _, bad := range []string{"logs.example.com:80", "http://logs.example.com", "a*b"} {
		if _, err := newHostPolicy([]string{bad}, ""); err == nil {
			t.Errorf("--allow-host %q accepted", bad)
		}
	}
}

// hostGet sends GET path to td with Host set to host and returns the status
// and body.
func hostGet(t *testing.T, td *testDaemon, path, host string, header ...string) (int, string) {
	t.Helper()
	resp, body := get(t, "http://"+td.addr+path, append([]string{"Host", host}, header...)...)
	return resp.StatusCode, body
}

// hostUpgrade asks td for a WebSocket on path with Host and, as a browser on a
// rebound name would, a matching Origin; a program (browser false) sends no
// Origin. It returns the status.
func hostUpgrade(t *testing.T, td *testDaemon, path, host string, browser bool) int {
	t.Helper()
	c, err := net.Dial("tcp", td.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	origin := "Origin: http://" + host + "\r\n"
	if !browser {
		origin = ""
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n%sUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host, origin)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// DNS rebinding: a page on rebind.evil.example whose name now resolves to the
// daemon's address sends its own name as Host, and an Origin that matches it.
// Neither the log, nor the index, nor the viewer may answer it; the probe
// still does, and the names the operator allows do.
func TestHostRebinding(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.AllowHosts = []string{"logs.example.com", "*.corp.example"} })
	p := td.write("app.log", "secret line\n")
	_, port, _ := net.SplitHostPort(td.addr)
	evil := "rebind.evil.example:" + port

	if got := hostUpgrade(t, td, p+"?lines=1", evil, true); got != http.StatusMisdirectedRequest {
		t.Errorf("stream with Host %s: %d, want 421", evil, got)
	}
	for name, req := range map[string][]string{
		"index json": {"/", "Accept", "application/json"},
		"index":      {"/"},
		"viewer":     {p, "Accept", "text/html"},
		"asset":      {"/_logtail/viewer.js"},
		"metrics":    {"/metrics"},
	} {
		code, body := hostGet(t, td, req[0], evil, req[1:]...)
		if code != http.StatusMisdirectedRequest || !strings.Contains(body, "--allow-host") || strings.Contains(body, "secret") || strings.Contains(body, "app.log") {
			t.Errorf("%s with Host %s: %d %.100q, want 421 naming --allow-host", name, evil, code, body)
		}
	}
	if code, body := hostGet(t, td, "/healthz", evil); code != 200 || body != "ok\n" {
		t.Errorf("healthz with Host %s: %d %q", evil, code, body)
	}
	for _, host := range []string{td.addr, "localhost:" + port, "[::1]:" + port, "logs.example.com:" + port, "a.corp.example", "view.localhost:" + port} {
		if got := hostUpgrade(t, td, p+"?lines=1", host, true); got != http.StatusSwitchingProtocols {
			t.Errorf("stream with Host %s: %d, want 101", host, got)
		}
		if code, body := hostGet(t, td, "/", host, "Accept", "application/json"); code != 200 || !strings.Contains(body, "app.log") {
			t.Errorf("index with Host %s: %d %.100q", host, code, body)
		}
	}
	// a program, not a browser: logtail ws://web-1:8080/… needs no --allow-host
	if got := hostUpgrade(t, td, p+"?lines=1", "web-1:"+port, false); got != http.StatusSwitchingProtocols {
		t.Errorf("stream without Origin with Host web-1: %d, want 101", got)
	}
	if got := metric(td.metrics(), `logtaild_handshakes_refused_total{status="421"}`); got != 1 {
		t.Errorf("421 refusals %v, want 1", got)
	}
}

// A token given as ?token= comes back as a cookie for the page's assets and
// stream. The cookie is sent by the browser to every port of the host, so it
// must not hold the token; it is named after the daemon's port so that two
// daemons do not overwrite each other's, the /metrics token sets none, and a
// token with cookie-unsafe characters still works.
func TestTokenCookie(t *testing.T) {
	const token, other, metricsToken = `a;b"c\d=e,f`, "other-token", "met-81b2c0"
	td := startDaemon(t, func(c *Config) { c.Token, c.MetricsToken = token, metricsToken })
	td2 := startDaemon(t, func(c *Config) { c.Token = other })
	p := td.write("app.log", "x\n")
	p2 := td2.write("app.log", "y\n")
	_, port, _ := net.SplitHostPort(td.addr)

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar}
	open := func(url string) int {
		t.Helper()
		resp, err := browser.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := open("http://" + td.addr + p + "?token=" + url.QueryEscape(token)); got != 200 {
		t.Fatalf("page with ?token=: %d", got)
	}
	if got := open("http://" + td2.addr + p2 + "?token=" + other); got != 200 {
		t.Fatalf("second daemon's page with ?token=: %d", got)
	}
	if got := open("http://" + td.addr + "/metrics?token=" + metricsToken); got != 200 {
		t.Fatalf("metrics with ?token=: %d", got)
	}
	// the jar now holds what a browser would send to this host, any port
	cookies := jar.Cookies(&url.URL{Scheme: "http", Host: "127.0.0.1"})
	names := map[string]bool{}
	for _, c := range cookies {
		names[c.Name] = true
		if strings.Contains(c.Value, token) || strings.Contains(c.Value, other) || strings.Contains(c.Value, metricsToken) ||
			strings.Contains(c.Value, url.QueryEscape(token)) {
			t.Errorf("cookie %s holds a token: %q", c.Name, c.Value)
		}
	}
	if len(cookies) != 2 || !names["logtaild_token_"+port] {
		t.Errorf("cookies %v: want one per daemon, logtaild_token_%s among them, none for /metrics", cookies, port)
	}
	// both pages go on working with the cookies alone
	for _, u := range []string{"http://" + td.addr + "/_logtail/viewer.js", "http://" + td2.addr + "/_logtail/viewer.js", "http://" + td.addr + "/"} {
		if got := open(u); got != 200 {
			t.Errorf("%s with the cookies: %d, want 200", u, got)
		}
	}
	// the stream cookie is not the metrics token, nor the other way round
	if got := open("http://" + td.addr + "/metrics"); got != 401 {
		t.Errorf("metrics with the page cookie: %d, want 401", got)
	}
	if code, _ := hostGet(t, td, "/_logtail/viewer.js", td.addr, "Cookie", "logtaild_token_"+port+"="+token); code != 401 {
		t.Errorf("a cookie holding the token itself: %d, want 401", code)
	}
}
