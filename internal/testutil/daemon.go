package testutil

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/wsconn"
)

// StartBinary starts the daemon on a free port and waits for its "serving"
// log line, returning the command and the address.
func StartBinary(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return StartCmd(t, exec.Command(bin, append([]string{"--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...))
}

// StartCmd starts a prepared daemon command and returns its address.
func StartCmd(t *testing.T, cmd *exec.Cmd) (*exec.Cmd, string) {
	t.Helper()
	cmd.Env = []string{}
	stderr, logw := io.Pipe()
	cmd.Stderr = logw // Wait returns once the process is gone and its log copied
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	done := make(chan struct{})
	go func() { // ends when logw is closed, after Wait
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			t.Log(line)
			if _, rest, ok := strings.Cut(line, `"msg":"serving","addr":"`); ok {
				addr, _, _ := strings.Cut(rest, `"`)
				addrc <- addr
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		logw.Close()
		<-done
	})
	select {
	case addr := <-addrc:
		return cmd, addr
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not start")
		return nil, ""
	}
}

// DialStatus opens a stream and reports the handshake's status (101 when
// accepted, after reading the stream to its end).
func DialStatus(t *testing.T, u string, h http.Header) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsconn.Dial(ctx, u, wsconn.DialOptions{Header: h})
	var he *wsconn.HandshakeError
	switch {
	case errors.As(err, &he):
		if he.Reason == "" {
			t.Errorf("%d without a reason", he.Status)
		}
		return he.Status
	case err != nil:
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if _, err := ReadAll(t, c); !wsconn.IsClose(err, 1000) {
		t.Errorf("stream: %v", err)
	}
	return 101
}

// DialOK opens a stream that must be accepted; it is closed with the test.
func DialOK(t *testing.T, u string) *wsconn.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsconn.Dial(ctx, u, wsconn.DialOptions{})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ReadAll reads messages until the stream closes, returning the payloads
// joined and the close error.
func ReadAll(t *testing.T, c *wsconn.Client) (string, error) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var out bytes.Buffer
	for {
		msg, err := c.Next()
		if err != nil {
			return out.String(), err
		}
		out.Write(msg)
	}
}
