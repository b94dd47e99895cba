package main

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/server"
)

func TestHealthcheckInProcess(t *testing.T) {
	td := serveDaemon(t, server.Config{})
	env := func(k string) string { return map[string]string{"LOGTAILD_ADDR": td}[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck"}, env, &out, &out); err != nil {
		t.Fatalf("healthcheck via LOGTAILD_ADDR: %v", err)
	}

	dir := t.TempDir()
	certFile, keyFile, _ := testutil.WriteCert(t, dir, "hc")
	tlsd := serveDaemon(t, server.Config{TLSCert: certFile, TLSKey: keyFile})
	_, port, _ := net.SplitHostPort(tlsd)
	if err := run(context.Background(), []string{"healthcheck", "--addr", ":" + port, "--tls-cert", certFile}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("healthcheck over TLS on :%s: %v", port, err)
	}
	other, _, _ := testutil.WriteCert(t, t.TempDir(), "other")
	err := run(context.Background(), []string{"healthcheck", "--addr", tlsd, "--tls-cert", other}, func(string) string { return "" }, &out, &out)
	if err == nil || exitCode(err) != 1 {
		t.Errorf("healthcheck pinned to another certificate: %v, want exit 1", err)
	}
}

// serveDaemon runs a daemon built from cfg on 127.0.0.1:0, with a root of
// its own, until the test ends, and returns its address.
func serveDaemon(t *testing.T, cfg server.Config) string {
	t.Helper()
	cfg.Roots = []string{t.TempDir()}
	cfg.HeartbeatInterval, cfg.HeartbeatTimeout = 30*time.Second, 10*time.Second
	d, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		d.Close()
	})
	return ln.Addr().String()
}
