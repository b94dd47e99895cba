package server

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The daemon against an independent WebSocket implementation: Python's
// websockets (Debian's python3-websockets), driven by testdata/conformance/peer.py.

const peerPython = "/usr/bin/python3"

// needPeer skips without python3-websockets, except in CI where it fails.
func needPeer(t *testing.T) {
	t.Helper()
	if err := exec.Command(peerPython, "-c", "import websockets").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-websockets is missing (scripts/test installs it): %v", err)
		}
		t.Skipf("python3-websockets is not installed: %v", err)
	}
}

// peer runs a scenario; each JSON line it prints is sent on the channel,
// which is closed when the peer exits.
func peer(t *testing.T, args ...string) <-chan map[string]any {
	t.Helper()
	cmd := exec.Command(peerPython, append([]string{"testdata/conformance/peer.py"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan map[string]any, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("peer printed %q", sc.Text())
				continue
			}
			ch <- m
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("peer %v: %v\n%s", args, err, stderr.String())
		}
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return ch
}

// next waits for the peer's next report.
func next(t *testing.T, ch <-chan map[string]any) map[string]any {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("the peer exited early")
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no word from the peer in 30 s")
	}
	return nil
}

func TestConformance(t *testing.T) {
	needPeer(t)
	td := startDaemon(t, func(c *Config) {
		c.HeartbeatInterval, c.HeartbeatTimeout = 100*time.Millisecond, 2*time.Second
	})
	long := strings.Repeat("0123456789", 20_000) // a 200 kB line, delivered whole
	p := td.write("app.log", numbered(1, 5)+long+"\n"+numbered(6, 7))

	t.Run("last lines, a 200 kB line, close 1000", func(t *testing.T) {
		m := next(t, peer(t, "last", td.url(p, "lines=3&format=text")))
		if m["code"] != 1000.0 || m["longest"] != float64(len(long)) {
			t.Errorf("peer saw %v", m)
		}
	})
	t.Run("pings answered, a later line arrives", func(t *testing.T) {
		ch := peer(t, "follow", td.url(p, "lines=0&tail=1&format=text"), "late line")
		next(t, ch)             // ready
		time.Sleep(time.Second) // ten pings, answered by websockets
		td.write("app.log", "a late line\n")
		if m := next(t, ch); m["got"] != "a late line" {
			t.Errorf("peer saw %v", m)
		}
		if m := next(t, ch); m["code"] != 1000.0 {
			t.Errorf("peer's close: %v", m)
		}
	})
	t.Run("garbage from the peer, close 1002", func(t *testing.T) {
		m := next(t, peer(t, "garbage", td.url(p, "lines=0&tail=1")))
		if m["code"] != 1002.0 {
			t.Errorf("peer saw %v", m)
		}
	})
	t.Run("daemon shutdown, close 1001", func(t *testing.T) {
		ch := peer(t, "until-closed", td.url(p, "lines=1&tail=1"))
		next(t, ch) // ready
		td.stop()
		if m := next(t, ch); m["code"] != 1001.0 {
			t.Errorf("peer saw %v", m)
		}
	})
}
