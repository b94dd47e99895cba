package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pythonWithWebsockets finds a Python that has the websockets package
// (Debian's python3-websockets, which .ci/run installs).
func pythonWithWebsockets(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import websockets").Run() == nil {
			return py
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no python3 with the websockets package; .ci/run installs python3-websockets")
	}
	t.Skip("no python3 with the websockets package (apt-get install python3-websockets)")
	return ""
}

// TestReferencePythonClient runs the article's consumer, unchanged, against
// the daemon: it must print the last lines, then the lines appended later.
func TestReferencePythonClient(t *testing.T) {
	py := pythonWithWebsockets(t)
	td := startDaemon(t)
	p := td.write("app.log", numbered(1, 15))
	host, port, _ := net.SplitHostPort(td.addr)
	script, _ := filepath.Abs("../testdata/reference/consumer_log_view.py")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, script, host, port, p)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = tlogWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cancel()

	out := bufio.NewReader(stdout)
	var got strings.Builder
	// readUntil reads the client's output until it holds want.
	readUntil := func(want string) {
		t.Helper()
		for !strings.Contains(got.String(), want) {
			line, err := out.ReadString('\n')
			got.WriteString(line)
			if err == io.EOF || err != nil {
				t.Fatalf("client output ended (%v) before %q; got:\n%s", err, want, got.String())
			}
		}
	}
	// HTML text frames of complete lines: the last 10, then the new one.
	readUntil("line 15\n")
	if !strings.HasPrefix(got.String(), "Message: line 6\n") || strings.Contains(got.String(), "line 5\n") {
		t.Fatalf("last lines: %q", got.String())
	}
	td.write("app.log", "line 16 <b>&\n")
	readUntil("line 16 &lt;b&gt;&amp;\n")
}
