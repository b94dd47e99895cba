package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// --debug-addr serves Go's profiles on its own address, and only there.
func TestDebugAddrServesProfiles(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	logr, logw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"--root", t.TempDir(), "--addr", "127.0.0.1:0", "--debug-addr", "127.0.0.1:0", "--log-format", "json",
			"--token", "s3cret-tok", "--metrics-token=m3tric-tok"},
			func(string) string { return "" }, io.Discard, logw)
		logw.Close()
	}()
	addrs := make(chan [2]string, 1)
	go func() {
		var debug string
		sc := bufio.NewScanner(logr)
		for sc.Scan() {
			line := sc.Text()
			if _, rest, ok := strings.Cut(line, `"msg":"serving profiles","addr":"`); ok {
				debug, _, _ = strings.Cut(rest, `"`)
			}
			if _, rest, ok := strings.Cut(line, `"msg":"serving","addr":"`); ok {
				addr, _, _ := strings.Cut(rest, `"`)
				addrs <- [2]string{addr, debug}
			}
		}
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-errc:
		t.Fatalf("run ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not start")
	}
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	if a[1] == "" {
		t.Fatal("no \"serving profiles\" log line before \"serving\"")
	}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("http://" + a[1] + "/debug/pprof/heap?debug=1"); code != 200 || !strings.Contains(body, "heap profile") {
		t.Errorf("debug address: %d %.80q", code, body)
	}
	if code, body := get("http://" + a[1] + "/debug/pprof/cmdline"); code != 200 || strings.Contains(body, "s3cret") || strings.Contains(body, "m3tric") || !strings.Contains(body, "--token\x00REDACTED") {
		t.Errorf("cmdline: %d %q", code, body)
	}
	if code, body := get("http://" + a[0] + "/debug/pprof/heap?debug=1"); code == 200 {
		t.Errorf("the stream address serves profiles too: %d %.80q", code, body)
	}
}
