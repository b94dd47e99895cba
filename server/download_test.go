package server

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtail/logtail/internal/testutil"
)

// TestDownload: download=1 is the whole file as an attachment, with what
// http.ServeContent gives: ranges, HEAD, conditional requests; a browser
// asking for a page gets the download too (the viewer's link).
func TestDownload(t *testing.T) {
	td := startDaemon(t)
	c := httpClient(t, nil)
	content := numbered(1, 100)
	p := td.write("app.log", content)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}

	resp, _ := td.get(c, "GET", p, "download=1", "Accept", browserAccept)
	body, err := io.ReadAll(resp.Body)
	h := resp.Header
	if err != nil || resp.StatusCode != 200 || string(body) != content {
		t.Fatalf("GET: %d, %d bytes, %v", resp.StatusCode, len(body), err)
	}
	if h.Get("Content-Disposition") != `attachment; filename="app.log"` || h.Get("Content-Type") != "application/octet-stream" ||
		h.Get("Accept-Ranges") != "bytes" || h.Get("Content-Length") != strconv.Itoa(len(content)) ||
		h.Get("Last-Modified") != fi.ModTime().UTC().Format(http.TimeFormat) || h.Get("ETag") == "" ||
		h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET headers: %v", h)
	}
	etag := h.Get("ETag")

	resp, _ = td.get(c, "GET", p, "download=1", "Range", "bytes=7-13")
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusPartialContent || string(body) != content[7:14] ||
		resp.Header.Get("Content-Range") != "bytes 7-13/"+strconv.Itoa(len(content)) {
		t.Errorf("Range: %d %q %q, want 206 %q", resp.StatusCode, body, resp.Header.Get("Content-Range"), content[7:14])
	}
	resp, _ = td.get(c, "GET", p, "download=1", "Range", "bytes=-7")
	if body, _ = io.ReadAll(resp.Body); resp.StatusCode != 206 || string(body) != "ne 100\n" {
		t.Errorf("suffix Range: %d %q", resp.StatusCode, body)
	}
	resp, _ = td.get(c, "GET", p, "download=1", "Range", "bytes=99999-")
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("Range past the end: %d, want 416", resp.StatusCode)
	}

	resp, _ = td.get(c, "HEAD", p, "download=1")
	if body, _ = io.ReadAll(resp.Body); resp.StatusCode != 200 || len(body) != 0 ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(content)) || resp.Header.Get("Content-Disposition") == "" {
		t.Errorf("HEAD: %d %q %v", resp.StatusCode, body, resp.Header)
	}

	resp, _ = td.get(c, "GET", p, "download=1", "If-Modified-Since", fi.ModTime().UTC().Format(http.TimeFormat))
	if body, _ = io.ReadAll(resp.Body); resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-Modified-Since: %d %q, want 304", resp.StatusCode, body)
	}
	resp, _ = td.get(c, "GET", p, "download=1", "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}

	// written since: another ETag, a full answer to If-Range with the old one
	td.write("app.log", "more\n")
	resp, _ = td.get(c, "GET", p, "download=1", "If-None-Match", etag)
	if body, _ = io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != content+"more\n" {
		t.Errorf("after a write: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, _ = td.get(c, "GET", p, "download=1", "Range", "bytes=0-3", "If-Range", etag)
	if resp.StatusCode != 200 {
		t.Errorf("If-Range with an old ETag: %d, want 200 (the whole new file)", resp.StatusCode)
	}

	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.log"), []byte("secret\n"), 0o644)
	os.Symlink(filepath.Join(outside, "secret.log"), filepath.Join(td.root, "escape.log"))
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/etc/passwd", 403},
		{td.root + "/escape.log", 403},
		{filepath.Join(outside, "secret.log"), 403},
		{td.root + "/nope.log", 404},
		{td.root, 400},
	} {
		resp, _ = td.get(c, "GET", tt.path, "download=1")
		body, _ = io.ReadAll(resp.Body)
		if resp.StatusCode != tt.status || resp.Header.Get("Content-Disposition") != "" || strings.Contains(string(body), "secret") {
			t.Errorf("%s: %d %q %v, want %d", tt.path, resp.StatusCode, body, resp.Header, tt.status)
		}
	}
	testutil.WaitFor(t, "no stream counted after the downloads", waitForLimit, func() bool { return td.d.streams.Load() == 0 })
}

// TestDownloadLargeSparseFile serves sparse files of 16 MiB and 512 MiB,
// whole and by range: what is allocated meanwhile is a few buffers, the
// same for both, never the file.
func TestDownloadLargeSparseFile(t *testing.T) {
	td := startDaemon(t)
	c := httpClient(t, nil)
	serve := func(size int64) uint64 {
		p := filepath.Join(td.root, fmt.Sprintf("sparse-%d.log", size))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size - 6); err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte("\nlast\n"), size-6)
		f.Close()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		resp, _ := td.get(c, "GET", p, "download=1")
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || n != size {
			t.Fatalf("read %d bytes of %d: %v", n, size, err)
		}
		resp, _ = td.get(c, "GET", p, "download=1", "Range", "bytes=-5")
		if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 206 || string(body) != "last\n" {
			t.Errorf("the end by range: %d %q", resp.StatusCode, body)
		}
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("%d MiB served in %v; %d KiB allocated meanwhile (daemon and client)",
			size>>20, time.Since(start).Round(time.Millisecond), allocated>>10)
		return allocated
	}
	small, large := serve(16<<20), serve(512<<20)
	if large > 4<<20 || large > 2*small+(1<<20) {
		t.Errorf("%d KiB allocated to serve 512 MiB, %d KiB for 16 MiB: want a few buffers, whatever the size", large>>10, small>>10)
	}
}

func TestAttachment(t *testing.T) {
	tests := map[string]string{
		"app.log":          `attachment; filename="app.log"`,
		"my app.log.1":     `attachment; filename="my app.log.1"`,
		`a"b\c.log`:        `attachment; filename="a_b_c.log"; filename*=UTF-8''a%22b%5Cc.log`,
		"x\r\nSet-Cookie:": `attachment; filename="x__Set-Cookie:"; filename*=UTF-8''x%0D%0ASet-Cookie%3A`,
		"journal-é.log":    `attachment; filename="journal-_.log"; filename*=UTF-8''journal-%C3%A9.log`,
		"50%.log":          `attachment; filename="50_.log"; filename*=UTF-8''50%25.log`,
		"bad\xff.log":      `attachment; filename="bad_.log"; filename*=UTF-8''bad%EF%BF%BD.log`,
	}
	for name, want := range tests {
		if got := attachment(name); got != want {
			t.Errorf("%q: %s, want %s", name, got, want)
		}
	}
}
