package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
	"github.com/logtail/logtail/wire"
	"github.com/logtail/logtail/wsconn"
)

// startRun runs the daemon in this process as main would, with args and
// env, and returns the address it serves on; it stops at the test's end.
func startRun(t *testing.T, args []string, env map[string]string) string {
	t.Helper()
	var stderr testutil.SyncBuffer // written by the running daemon
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args = append([]string{"--addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, &bytes.Buffer{}, &stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	var addr string
	serving := func() bool {
		sc := bufio.NewScanner(strings.NewReader(stderr.String()))
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "serving" {
				addr = rec.Addr
				return true
			}
		}
		return false
	}
	if !testutil.Eventually(10*time.Second, serving) {
		t.Fatalf("the daemon did not start: %s", stderr.String())
	}
	return addr
}

// The daemon's name, from --name, LOGTAILD_NAME or the host name, is what
// a stream's handshake and first json message say.
func TestName(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"default: the host name", nil, nil, host},
		{"flag", []string{"--name", "web-1"}, nil, "web-1"},
		{"env", nil, map[string]string{"LOGTAILD_NAME": "app-7d9f8-x2x4q"}, "app-7d9f8-x2x4q"},
		{"flag wins", []string{"--name=web-1"}, map[string]string{"LOGTAILD_NAME": "pod"}, "web-1"},
		{"spaces and more", []string{"--name", "web 1 · eu"}, nil, "web 1 · eu"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			p := filepath.Join(root, "app.log")
			if err := os.WriteFile(p, []byte("a\nb\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			addr := startRun(t, append([]string{"--root", root}, tt.args...), tt.env)
			c := testutil.DialOK(t, "ws://"+addr+p+"?format=json&lines=1")
			if got := c.Header().Get(wire.HeaderName); got != tt.want {
				t.Errorf("%s: %q, want %q", wire.HeaderName, got, tt.want)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			data, err := c.Next()
			if err != nil {
				t.Fatal(err)
			}
			if m, err := wire.Decode(data); err != nil || m.Name != tt.want || len(m.Lines) != 1 {
				t.Errorf("first message %q (%v): want the name %q", data, err, tt.want)
			}
			if _, err := c.Next(); !wsconn.IsClose(err, wsconn.CodeNormal) {
				t.Errorf("the end: %v", err)
			}
		})
	}
}

// A name a client could not show as it is: one line on stderr and exit 2,
// from the command line or the environment.
func TestBadName(t *testing.T) {
	root := t.TempDir()
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--name", "evil\x1b]52;c;aGk=\x07"}, nil, "U+001B at byte 4 is a control character"},
		{[]string{"--name", "new\nline"}, nil, "U+000A at byte 3"},
		{nil, map[string]string{"LOGTAILD_NAME": "bidi\u202eevil"}, "U+202E at byte 4"},
		{nil, map[string]string{"LOGTAILD_NAME": "\xffname"}, "not valid UTF-8"},
		{[]string{"--name", strings.Repeat("n", 254)}, nil, "254 bytes; at most 253"},
	} {
		var stdout, stderr bytes.Buffer
		code := runMain(context.Background(), append([]string{"--root", root}, tt.args...), func(k string) string { return tt.env[k] }, &stdout, &stderr)
		if code != 2 || !strings.HasPrefix(stderr.String(), "logtaild: --name: ") || !strings.Contains(stderr.String(), tt.want) ||
			strings.Count(stderr.String(), "\n") != 1 || stdout.Len() != 0 {
			t.Errorf("%q %q: exit %d, stderr %q; want exit 2 and one line saying %q", tt.args, tt.env, code, stderr.String(), tt.want)
		}
	}
	cfg, err := parseConfig([]string{"--root", root, "--name", strings.Repeat("n", 253)}, helpNoEnv, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil || len(cfg.Name) != 253 {
		t.Errorf("a 253-byte name: %v", err)
	}
}
