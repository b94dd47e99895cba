package server

import (
	"encoding/json"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/logtail/logtail/internal/testutil"

	"github.com/logtail/logtail/wsconn"
)

// httpGet returns the status and body of a plain GET.
func httpGet(t *testing.T, u string, accept string) (int, string) {
	t.Helper()
	resp, body := get(t, u, "Accept", accept)
	return resp.StatusCode, body
}

// indexEntries is the index's JSON: name → url.
func indexEntries(t *testing.T, addr string) map[string]string {
	t.Helper()
	status, body := httpGet(t, "http://"+addr+"/?limit=5000", "application/json")
	var l struct {
		Files []struct{ Name, URL string } `json:"files"`
	}
	if err := json.Unmarshal([]byte(body), &l); status != 200 || err != nil {
		t.Fatalf("index: %d %v", status, err)
	}
	m := map[string]string{}
	for _, f := range l.Files {
		m[f.Name] = f.URL
	}
	return m
}

// TestRootGivenAsSymlink: --root /x/rootlink (a link to /x/root) serves
// /x/rootlink/app.log, streams and pages, and the index lists it so.
func TestRootGivenAsSymlink(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real, link := filepath.Join(dir, "root"), filepath.Join(dir, "rootlink")
	os.Mkdir(real, 0o755)
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(real, "app.log"), []byte("one\ntwo\n"), 0o644)
	td := startDaemonAt(t, link, "127.0.0.1:0")
	for _, p := range []string{link + "/app.log", real + "/app.log"} {
		got, err := testutil.ReadAll(t, testutil.DialOK(t, td.url(p, "format=text")))
		if got != "one\ntwo\n" || !wsconn.IsClose(err, 1000) {
			t.Errorf("stream of %s: %q, %v", p, got, err)
		}
		if status, _ := httpGet(t, "http://"+td.addr+p, ""); status != 200 {
			t.Errorf("viewer of %s: %d", p, status)
		}
	}
	c := testutil.DialOK(t, td.url(link+"/app.log", "format=text&tail=1&lines=0"))
	f, _ := os.OpenFile(filepath.Join(real, "app.log"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("three\n")
	f.Close()
	if got := readLines(t, c, 1)[0]; got != "three\n" {
		t.Errorf("followed under the given name: %q", got)
	}
	if u, ok := indexEntries(t, td.addr)[link+"/app.log"]; !ok || u != link+"/app.log" {
		t.Errorf("index: %v, want %s listed under the name given", indexEntries(t, td.addr), link+"/app.log")
	}
}

// TestIndexLinkOpens: the index's link to a file whose name holds an escape
// (a%2e.log, linked as a%252e.log) opens it, as a page and as a stream.
func TestIndexLinkOpens(t *testing.T) {
	td := startDaemon(t)
	names := []string{"a%2e.log", "b%2f%5c.log", "100%.log"}
	for _, name := range names {
		td.write(name, "x\n")
	}
	index := indexEntries(t, td.addr) // the index is reused for a few seconds: list once
	for _, name := range names {
		p := filepath.Join(td.root, name)
		u, ok := index[p]
		if !ok {
			t.Fatalf("%s not listed", name)
		}
		if status, body := httpGet(t, "http://"+td.addr+u, ""); status != 200 {
			t.Errorf("%s: the index's link %s: %d %s", name, u, status, body)
			continue
		}
		got, err := testutil.ReadAll(t, testutil.DialOK(t, "ws://"+td.addr+u+"?format=text"))
		if got != "x\n" || !wsconn.IsClose(err, 1000) {
			t.Errorf("%s: stream %q, %v", name, got, err)
		}
	}
}

// TestOutsideNoOracle: through a symlinked directory in the root that leads
// outside, a file that exists and one that does not get the same answer.
func TestOutsideNoOracle(t *testing.T) {
	td := startDaemon(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "shadow"), []byte("secret\n"), 0o600)
	os.Mkdir(filepath.Join(outside, "dir"), 0o755)
	if err := os.Symlink(outside, filepath.Join(td.root, "etc")); err != nil {
		t.Fatal(err)
	}
	p := td.write("app.log", "x\n")
	var want string
	for i, name := range []string{"shadow", "nonexistent", "dir", "dir/nonexistent", "shadow/x"} {
		u := (&url.URL{Path: filepath.Join(td.root, "etc", name)}).EscapedPath()
		status, body := httpGet(t, "http://"+td.addr+u, "")
		ws := testutil.DialStatus(t, "ws://"+td.addr+u, nil)
		got := strconv.Itoa(status) + " " + strconv.Itoa(ws) + " " + body
		if i == 0 {
			want = got
		}
		if status != 403 || got != want {
			t.Errorf("%s: %q, want 403 and the same as for shadow: %q", name, got, want)
		}
	}
	checkServes(t, td, p)
}

// TestFIFONotOpened: asking for a FIFO (last lines, a follower, its page,
// the index) answers 400 and never opens it, so a writer blocked opening it
// stays blocked.
func TestFIFONotOpened(t *testing.T) {
	td := startDaemon(t)
	fifo := filepath.Join(td.root, "fifo.log")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	writer := exec.Command("sh", "-c", `exec 3>"$0" && printf released >&3`, fifo)
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- writer.Wait() }()
	defer func() { writer.Process.Kill(); <-done }()
	wchan := func() string {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(writer.Process.Pid) + "/wchan")
		return string(b)
	}
	// wait_for_partner is where the kernel holds a FIFO's opener
	if !testutil.Eventually(waitForLimit, func() bool { return wchan() == "wait_for_partner" }) {
		if os.Getenv("CI") != "true" {
			t.Skipf("cannot see the writer block in /proc/PID/wchan (%q)", wchan())
		}
		t.Fatalf("the writer does not block on the FIFO: wchan %q", wchan())
	}
	for _, q := range []string{"", "tail=1", "tail=1&lines=0"} {
		if got := testutil.DialStatus(t, td.url(fifo, q), nil); got != 400 {
			t.Errorf("stream ?%s: %d, want 400", q, got)
		}
	}
	if status, _ := httpGet(t, "http://"+td.addr+fifo, ""); status != 400 {
		t.Errorf("viewer: %d, want 400", status)
	}
	if _, ok := indexEntries(t, td.addr)[fifo]; ok {
		t.Error("the FIFO is listed")
	}
	// an open for reading makes the writer runnable at once: it would no
	// longer be waiting here
	if got := wchan(); got != "wait_for_partner" {
		t.Fatalf("the writer was released: wchan %q", got)
	}
	r, err := os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); string(got) != "released" || err != nil {
		t.Errorf("the writer, released by a real reader: %q, %v", got, err)
	}
	checkServes(t, td, td.write("app.log", "x\n"))
}
