package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"

	"github.com/logtail/logtail/wsconn"
)

// get does a plain HTTP request to the daemon with optional headers.
func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// metric returns the value of one series ("name" or `name{label="v"}`) in a
// Prometheus text exposition, or -1 when it is absent.
func metric(body, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return f
		}
	}
	return -1
}

func (td *testDaemon) metrics(header ...string) string {
	td.t.Helper()
	resp, body := get(td.t, "http://"+td.addr+"/metrics", header...)
	if resp.StatusCode != 200 {
		td.t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	return body
}

func TestMetrics(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", numbered(1, 20))
	body := td.metrics()
	for _, name := range []string{
		"logtaild_streams_open", "logtaild_followers", "logtaild_lines_sent_total", "logtaild_bytes_sent_total",
		"logtaild_frames_sent_total", `logtaild_handshakes_refused_total{status="404"}`, "logtaild_heartbeat_timeouts_total",
		"logtaild_slow_client_closes_total", `logtaild_rotations_total{kind="rotated"}`,
		"go_goroutines", "process_open_fds",
	} {
		if metric(body, name) < 0 {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if ct := metric(body, "logtaild_lines_sent_total"); ct != 0 {
		t.Errorf("lines sent before any stream: %v", ct)
	}

	// Two clients follow one file: one follower, two streams.
	a, b := td.dial(p, "lines=5&tail=1"), td.dial(p, "lines=5&tail=1")
	readLines(t, a, 5)
	readLines(t, b, 5)
	// a stream counts what it sent once its write has returned: the client
	// may have read it a moment before
	testutil.WaitFor(t, "the lines sent to be counted", waitForLimit, func() bool {
		return metric(td.metrics(), "logtaild_lines_sent_total") >= 10
	})
	body = td.metrics()
	for series, want := range map[string]float64{
		"logtaild_streams_open":     2,
		"logtaild_followers":        1,
		"logtaild_lines_sent_total": 10,
	} {
		if got := metric(body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if frames, bytes := metric(body, "logtaild_frames_sent_total"), metric(body, "logtaild_bytes_sent_total"); frames < 2 || bytes != float64(2*len(numbered(16, 20))) {
		t.Errorf("frames %v, bytes %v", frames, bytes)
	}

	// A rotation is counted once for the file, not once per client.
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	td.write("app.log", "after rotation\n")
	for _, c := range []*wsconn.Client{a, b} {
		if got := readLines(t, c, 1); got[0] != "after rotation\n" {
			t.Fatalf("after rotation: %q", got)
		}
	}
	if got := metric(td.metrics(), `logtaild_rotations_total{kind="rotated"}`); got != 1 {
		t.Errorf("rotations %v, want 1 for two clients of one file", got)
	}

	// Refusals by status.
	for _, path := range []string{"/nope.log", filepath.Join(td.root, "missing.log")} {
		if _, err := wsconn.Dial(context.Background(), td.url(path, ""), wsconn.DialOptions{}); err == nil {
			t.Fatalf("%s accepted", path)
		}
	}
	td.dialRefused(p, "lines=x")
	body = td.metrics()
	if got := metric(body, `logtaild_handshakes_refused_total{status="404"}`) + metric(body, `logtaild_handshakes_refused_total{status="403"}`); got != 2 {
		t.Errorf("403+404 refusals %v, want 2\n%s", got, body)
	}
	if got := metric(body, `logtaild_handshakes_refused_total{status="400"}`); got != 1 {
		t.Errorf("400 refusals %v, want 1", got)
	}

	a.Close()
	b.Close()
	testutil.WaitFor(t, "streams to end", waitForLimit, func() bool { return metric(td.metrics(), "logtaild_streams_open") == 0 })
	testutil.WaitFor(t, "the follower to stop", waitForLimit, func() bool { return metric(td.metrics(), "logtaild_followers") == 0 })
}

func (td *testDaemon) dialRefused(path, query string, opt ...wsconn.DialOptions) *wsconn.HandshakeError {
	td.t.Helper()
	var o wsconn.DialOptions
	if len(opt) > 0 {
		o = opt[0]
	}
	c, err := wsconn.Dial(context.Background(), td.url(path, query), o)
	if err == nil {
		c.Close()
		td.t.Fatalf("%s?%s: accepted, want refused", path, query)
	}
	var he *wsconn.HandshakeError
	if !errors.As(err, &he) {
		td.t.Fatalf("%s?%s: %v, want a refused handshake", path, query, err)
	}
	return he
}

func TestHeartbeatTimeoutCounted(t *testing.T) {
	td := startDaemon(t, func(c *Config) {
		c.HeartbeatInterval = 20 * time.Millisecond
		c.HeartbeatTimeout = 20 * time.Millisecond
	})
	p := td.write("app.log", "x\n")
	c := td.dial(p, "lines=1&tail=1")
	readLines(t, c, 1) // and then nothing: no ping is answered
	testutil.WaitFor(t, "the heartbeat timeout metric", waitForLimit, func() bool {
		return metric(td.metrics(), "logtaild_heartbeat_timeouts_total") == 1
	})
}

func TestToken(t *testing.T) {
	const token, metricsToken = "tok-3f9a1c77e2", "met-81b2c0"
	var logs testutil.SyncBuffer
	td := startDaemon(t, func(c *Config) {
		c.Token, c.MetricsToken = token, metricsToken
		c.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(&logs, tlogWriter{t}), nil))
	})
	p := td.write("app.log", numbered(1, 3))
	base := "http://" + td.addr

	t.Run("http", func(t *testing.T) {
		tests := []struct {
			name   string
			path   string
			header []string
			want   int
		}{
			{"healthz open", "/healthz", nil, 200},
			{"index without token", "/", nil, 401},
			{"index with bearer", "/", []string{"Authorization", "Bearer " + token}, 200},
			{"index with wrong bearer", "/", []string{"Authorization", "Bearer nope"}, 401},
			{"index with query", "/?token=" + token, nil, 200},
			{"viewer without token", p, nil, 401},
			{"viewer with query", p + "?token=" + token, nil, 200},
			{"asset without token", "/_logtail/viewer.js", nil, 401},
			{"metrics without its token", "/metrics", nil, 401},
			{"metrics with the stream token", "/metrics", []string{"Authorization", "Bearer " + token}, 401},
			{"metrics with its token", "/metrics", []string{"Authorization", "Bearer " + metricsToken}, 200},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp, body := get(t, base+tt.path, tt.header...)
				if resp.StatusCode != tt.want {
					t.Fatalf("%s: %d %q, want %d", tt.path, resp.StatusCode, body, tt.want)
				}
				if tt.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without WWW-Authenticate: Bearer: %q", resp.Header.Get("WWW-Authenticate"))
				}
			})
		}
	})

	t.Run("page with query sets the cookie", func(t *testing.T) {
		resp, _ := get(t, base+p+"?token="+token)
		var found bool
		for _, c := range resp.Cookies() {
			found = found || c.Name == cookieName(td.addr) && c.Value != "" && c.HttpOnly && c.SameSite == http.SameSiteStrictMode
		}
		if !found {
			t.Errorf("no HttpOnly SameSite=Strict token cookie: %v", resp.Header.Values("Set-Cookie"))
		}
	})

	t.Run("streams", func(t *testing.T) {
		if he := td.dialRefused(p, "lines=1"); he.Status != 401 {
			t.Errorf("no token: %v, want 401", he)
		}
		if he := td.dialRefused(p, "lines=1&token=wrong"); he.Status != 401 {
			t.Errorf("wrong token: %v, want 401", he)
		}
		for name, c := range map[string]*wsconn.Client{
			"query":  td.dial(p, "lines=1&token="+token),
			"bearer": td.dial(p, "lines=1", wsconn.DialOptions{Header: http.Header{"Authorization": {"Bearer " + token}}}),
		} {
			if got, err := testutil.ReadAll(t, c); got != "line 3\n" || !wsconn.IsClose(err, 1000) {
				t.Errorf("%s: %q %v", name, got, err)
			}
		}
		body := td.metrics("Authorization", "Bearer "+metricsToken)
		if got := metric(body, `logtaild_handshakes_refused_total{status="401"}`); got != 2 {
			t.Errorf("401 refusals %v, want 2", got)
		}
	})

	td.shutdown()
	if !strings.Contains(logs.String(), "stream closed") {
		t.Fatalf("the log has no stream lines:\n%s", logs.String())
	}
	for _, secret := range []string{token, metricsToken} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log contains a token:\n%s", logs.String())
		}
	}
}

func TestMaxStreams(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.MaxStreams = 2 })
	p := td.write("app.log", "x\n")
	a := td.dial(p, "lines=1&tail=1")
	readLines(t, a, 1)
	b := td.dial(p, "lines=1&tail=1")
	readLines(t, b, 1)
	he := td.dialRefused(p, "lines=1&tail=1")
	if he.Status != 503 || !strings.Contains(he.Reason, "too many streams") {
		t.Fatalf("third stream: %v, want 503 too many streams", he)
	}
	a.Close()
	testutil.WaitFor(t, "a stream slot", waitForLimit, func() bool { return td.d.streams.Load() < 2 })
	c := td.dial(p, "lines=1&tail=1")
	readLines(t, c, 1)
	if got := metric(td.metrics(), `logtaild_handshakes_refused_total{status="503"}`); got != 1 {
		t.Errorf("503 refusals %v, want 1", got)
	}
}

func TestTLSAndReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, first := testutil.WriteCert(t, dir, "first")
	td := startDaemon(t, func(c *Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	p := td.write("app.log", numbered(1, 3))

	trusting := func(certs ...*x509.Certificate) *tls.Config {
		pool := x509.NewCertPool()
		for _, c := range certs {
			pool.AddCert(c)
		}
		return &tls.Config{RootCAs: pool}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsconn.Dial(ctx, "wss://"+td.addr+p+"?lines=2", wsconn.DialOptions{TLSConfig: trusting(first)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := testutil.ReadAll(t, c); got != numbered(2, 3) || !wsconn.IsClose(err, 1000) {
		t.Fatalf("wss stream: %q %v", got, err)
	}
	if resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: trusting(first)}}).Get("https://" + td.addr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("https healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	presented := func() *x509.Certificate {
		t.Helper()
		conn, err := tls.Dial("tcp", td.addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if v := conn.ConnectionState().Version; v < tls.VersionTLS12 {
			t.Errorf("TLS version %x", v)
		}
		return conn.ConnectionState().PeerCertificates[0]
	}
	if _, err := tls.Dial("tcp", td.addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 accepted")
	}

	// A bad pair (a half-written rotation) keeps the current one.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := td.d.certs.reload(); err == nil {
		t.Error("reload of a broken pair succeeded")
	}
	if !presented().Equal(first) {
		t.Error("a failed reload replaced the certificate")
	}

	// The new pair is presented to new handshakes after the reload.
	_, _, second := testutil.WriteCert(t, dir, "second")
	if !presented().Equal(first) {
		t.Error("the certificate changed before the reload")
	}
	if err := td.d.certs.reload(); err != nil {
		t.Fatal(err)
	}
	if got := presented(); !got.Equal(second) {
		t.Errorf("after reload the daemon presents %q, want %q", got.Subject.CommonName, second.Subject.CommonName)
	}
	c2, err := wsconn.Dial(ctx, "wss://"+td.addr+p+"?lines=1", wsconn.DialOptions{TLSConfig: trusting(second)})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got, err := testutil.ReadAll(t, c2); got != "line 3\n" || !wsconn.IsClose(err, 1000) {
		t.Fatalf("wss stream after reload: %q %v", got, err)
	}
}
