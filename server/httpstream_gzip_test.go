package server

import (
	"bufio"
	"compress/gzip"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A client that sends Accept-Encoding: gzip gets the stream forms gzipped,
// each run of lines flushed so that it can be read at once: here read
// through a gzip.Reader a line at a time while the stream goes on, then to
// a clean end (the CRC and length checked). Without Accept-Encoding, plain.
func TestHTTPStreamGzip(t *testing.T) {
	td := startDaemon(t)
	c := httpClient(t, nil) // DisableCompression: the test reads the gzip itself
	p := td.write("app.log", numbered(1, 5))

	resp, _ := td.get(c, "GET", p, "format=text&lines=2&tail=1", "Accept-Encoding", "gzip")
	checkStreamHeaders(t, resp, "text/plain; charset=utf-8")
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Accept-Encoding") {
		t.Fatalf("headers %v: want Content-Encoding: gzip, Vary: Accept-Encoding", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(zr)
	readLine := func(want string) {
		t.Helper()
		l, err := br.ReadString('\n')
		if err != nil || l != want+"\n" {
			t.Fatalf("got %q, %v; want %q", l, err, want)
		}
	}
	readLine("line 4")
	readLine("line 5")
	for i := 6; i <= 8; i++ { // each seen before the next is written
		td.write("app.log", numbered(i, i))
		readLine(strings.TrimSuffix(numbered(i, i), "\n"))
	}

	// the last lines, to the end of the member; in each form
	for _, tc := range []struct{ query, accept, want string }{
		{"format=text&lines=3", "", "line 6\nline 7\nline 8\n"},
		{"format=json&lines=1", "", `"lines":["line 8"]`},
		{"lines=1", "text/event-stream", "data: {\"lines\":[\"line 8\"]"},
	} {
		resp, _ := td.get(c, "GET", p, tc.query, "Accept-Encoding", "gzip", "Accept", tc.accept)
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: not gzipped: %v", tc.query, resp.Header)
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		body, err := io.ReadAll(zr)
		if err != nil || !strings.Contains(string(body), tc.want) {
			t.Fatalf("%s: %q, %v; want %q", tc.query, body, err, tc.want)
		}
		if rest, _ := io.ReadAll(resp.Body); len(rest) != 0 {
			t.Fatalf("%s: %d bytes after the gzip member", tc.query, len(rest))
		}
	}

	// without Accept-Encoding: plain
	resp, _ = td.get(c, "GET", p, "format=text&lines=2")
	body, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Encoding") != "" || string(body) != "line 7\nline 8\n" {
		t.Fatalf("plain: %v %q", resp.Header, body)
	}
	// a download is not gzipped (ServeContent, with Range)
	resp, _ = td.get(c, "GET", p, "download=1", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("download: %v", resp.Header)
	}
}

// curl --compressed -N of the text form sees each line as it is written.
func TestCurlCompressedFollows(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	td := startDaemon(t)
	p := td.write("app.log", numbered(1, 3))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, "--compressed", "-N", "-sS", "--fail", "http://"+td.addr+p+"?format=text&lines=1&tail=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cancel()
	br := bufio.NewReader(out)
	want := []string{"line 3"}
	for i := 4; i <= 6; i++ {
		for _, w := range want {
			l, err := br.ReadString('\n')
			if err != nil || l != w+"\n" {
				t.Fatalf("curl: %q, %v; want %q", l, err, w)
			}
		}
		td.write("app.log", numbered(i, i))
		want = []string{strings.TrimSuffix(numbered(i, i), "\n")}
	}
}
