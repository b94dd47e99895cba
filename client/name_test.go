package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/client"
	"github.com/logtail/logtail/server"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// serveNamed runs a real daemon named name over dir on addr (127.0.0.1:0
// for any port) until stop, and returns the address it serves on.
func serveNamed(t *testing.T, dir, addr, name string, maxLines int) (string, func()) {
	t.Helper()
	d, err := server.New(server.Config{Name: name, Roots: []string{dir}, HeartbeatInterval: 30 * time.Second,
		HeartbeatTimeout: 10 * time.Second, MaxLines: maxLines, MaxLineBytes: 1 << 20, ShutdownTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		d.Close()
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// Name is the daemon's name from the handshake, known when the first
// message is handled; LinesCap the cap the daemon applied to Lines.
func TestStreamNameAndLinesCap(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	if err := os.WriteFile(p, []byte("1\n2\n3\n4\n5\n6\n7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _ := serveNamed(t, dir, "127.0.0.1:0", "web-1", 5)
	for _, tt := range []struct {
		lines, wantCap, wantLines int
	}{{100, 5, 5}, {5, 0, 5}, {2, 0, 2}} {
		s := &client.Stream{URL: &url.URL{Scheme: "ws", Host: addr, Path: p}, Lines: tt.lines}
		if s.Name() != "" || s.LinesCap() != 0 {
			t.Errorf("before Run: %q %d", s.Name(), s.LinesCap())
		}
		lines := 0
		err := s.Run(context.Background(), func(m *wire.Message) error {
			if s.Name() != "web-1" || s.LinesCap() != tt.wantCap {
				t.Errorf("lines=%d: Name %q, LinesCap %d; want web-1, %d", tt.lines, s.Name(), s.LinesCap(), tt.wantCap)
			}
			lines += len(m.Lines)
			return nil
		})
		if err != nil || lines != tt.wantLines {
			t.Errorf("lines=%d: %d lines, %v; want %d", tt.lines, lines, err, tt.wantLines)
		}
	}
}

// Name is the latest connection's: a daemon that comes back under another
// name (another pod at the address) is named anew.
func TestStreamNameOfTheLatestConnection(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	if err := os.WriteFile(p, []byte("first\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, stop := serveNamed(t, dir, "127.0.0.1:0", "pod-a", 1000)
	s := &client.Stream{URL: &url.URL{Scheme: "ws", Host: addr, Path: p}, Lines: 10, Follow: true, Retry: true}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var names []string
	err := s.Run(ctx, func(m *wire.Message) error {
		for _, line := range m.Lines {
			names = append(names, line+"@"+s.Name())
			switch line {
			case "first": // the daemon goes; another takes its address
				stop()
				f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					return err
				}
				f.WriteString("second\n")
				f.Close()
				serveNamed(t, dir, addr, "pod-b", 1000)
			case "second":
				cancel()
			}
		}
		return nil
	})
	if err != nil || strings.Join(names, " ") != "first@pod-a second@pod-b" {
		t.Errorf("%q, %v; want first@pod-a second@pod-b", names, err)
	}
}

// A daemon that says its name only in its json (no header) is named by it.
func TestStreamNameFromTheMessage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsconn.Upgrade(w, r, wsconn.Config{CloseWait: time.Second}, nil)
		if err != nil {
			t.Error(err)
			return
		}
		for _, m := range []string{`{"lines":["a"],"pos":"1:2:2","name":"said"}`, `{"lines":["b"],"pos":"1:2:4"}`} {
			if err := c.WriteText(append(make([]byte, wsconn.HeaderRoom), m...)); err != nil {
				t.Error(err)
			}
		}
		c.Close(wsconn.CodeNormal, "")
	}))
	defer srv.Close()
	u, _ := url.Parse("ws" + strings.TrimPrefix(srv.URL, "http") + "/x.log")
	s := &client.Stream{URL: u, Lines: 2}
	var names []string
	err := s.Run(context.Background(), func(m *wire.Message) error {
		names = append(names, s.Name())
		return nil
	})
	if err != nil || strings.Join(names, ",") != "said,said" || s.LinesCap() != 0 {
		t.Errorf("names %q, cap %d, %v; want said twice, 0", names, s.LinesCap(), err)
	}
}

// A refusal carries the headers of the daemon's answer, its name among them.
func TestHandshakeErrorHeader(t *testing.T) {
	dir := t.TempDir()
	addr, _ := serveNamed(t, dir, "127.0.0.1:0", "web-9", 1000)
	s := &client.Stream{URL: &url.URL{Scheme: "ws", Host: addr, Path: filepath.Join(dir, "missing.log")}}
	err := s.Run(context.Background(), func(*wire.Message) error { return nil })
	var he *wsconn.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusNotFound || he.Header.Get(wire.HeaderName) != "web-9" {
		t.Errorf("%v: want a 404 naming web-9", err)
	}
}
