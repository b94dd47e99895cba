package server

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestCurlTextFollowsRotation: curl -N of the text form is tail -F over
// HTTP: the last lines, the new ones as they are written, then those of the
// file that replaced the rotated one, in order. Without curl (outside CI)
// net/http reads the same stream.
func TestCurlTextFollowsRotation(t *testing.T) {
	td := startDaemon(t)
	p := td.write("app.log", lines("old", 1, 20))
	u := "http://" + td.addr + p + "?format=text&tail=1&lines=5"

	var out io.Reader
	stop, wait := func() {}, func() {} // end the client, then wait for it
	if curl, err := exec.LookPath("curl"); err == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, curl, "-N", "-sS", "--fail", u)
		cmd.Stderr = tlogWriter{t}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stop, wait = cancel, func() { cmd.Wait() }
		out = stdout
	} else {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is not installed")
		}
		t.Logf("no curl (%v): reading with net/http", err)
		resp, cancel := td.get(httpClient(t, nil), "GET", p, "format=text&tail=1&lines=5")
		stop, out = cancel, resp.Body
	}
	got := make(chan string)
	done := make(chan struct{})
	t.Cleanup(func() { stop(); <-done; wait() })
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case got <- sc.Text():
			case <-time.After(30 * time.Second):
				return
			}
		}
	}()
	expect := func(want []string) {
		t.Helper()
		for _, w := range want {
			select {
			case l := <-got:
				if l != w {
					t.Fatalf("got %q, want %q", l, w)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("waiting for %q", w)
			}
		}
	}
	expect(splitLines(lines("old", 16, 20)))
	td.write("app.log", lines("old", 21, 25))
	expect(splitLines(lines("old", 21, 25)))
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	td.write("app.log.1", lines("old", 26, 27)) // written until the application reopens its log
	td.write("app.log", lines("new", 1, 5))
	expect(append(splitLines(lines("old", 26, 27)), splitLines(lines("new", 1, 5))...))
}
