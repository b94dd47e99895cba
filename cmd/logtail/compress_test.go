package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// compressedFrames is the daemon's count of frames it sent compressed.
func (d *daemon) compressedFrames(t *testing.T) float64 {
	t.Helper()
	resp, err := http.Get("http://" + d.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "logtaild_frames_sent_compressed_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatal("/metrics has no logtaild_frames_sent_compressed_total")
	return 0
}

// logtail asks the daemon for permessage-deflate unless told not to, and
// prints the file byte for byte either way (a real log: Debian's dpkg.log and
// apt's term.log, with CRs in its lines).
func TestCompression(t *testing.T) {
	corpus, err := os.ReadFile("../../testdata/corpus/debian-apt.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(string(corpus), "\n")
	d := startDaemon(t, "", "")
	d.write(t, "apt.log", string(corpus))
	tests := []struct {
		name       string
		getenv     func(string) string
		args       []string
		compressed bool
	}{
		{"default", env(), nil, true},
		{"--no-compress", env(), []string{"--no-compress"}, false},
		{"LOGTAIL_NO_COMPRESS=1", env("LOGTAIL_NO_COMPRESS", "1"), nil, false},
		{"LOGTAIL_NO_COMPRESS=0", env("LOGTAIL_NO_COMPRESS", "0"), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := d.compressedFrames(t)
			stdout, stderr, err := runCLI(t, tt.getenv, append(tt.args, "-n", strconv.Itoa(lines), d.url("apt.log"))...)
			if err != nil || stderr != "" {
				t.Fatalf("err %v, stderr %q", err, stderr)
			}
			if stdout != string(corpus) {
				t.Errorf("printed %d bytes, not the file's %d", len(stdout), len(corpus))
			}
			if sent := d.compressedFrames(t) - before; (sent > 0) != tt.compressed {
				t.Errorf("%v frames sent compressed; want compression %v", sent, tt.compressed)
			}
		})
	}
}

func TestNoCompressArgs(t *testing.T) {
	tests := []struct {
		getenv  func(string) string
		args    []string
		off     bool
		wantErr string
	}{
		{env(), nil, false, ""},
		{env(), []string{"--no-compress"}, true, ""},
		{env("LOGTAIL_NO_COMPRESS", "1"), nil, true, ""},
		{env("LOGTAIL_NO_COMPRESS", "true"), nil, true, ""},
		{env("LOGTAIL_NO_COMPRESS", "0"), nil, false, ""},
		{env("LOGTAIL_NO_COMPRESS", "0"), []string{"--no-compress"}, true, ""},
		{env("LOGTAIL_NO_COMPRESS", "maybe"), nil, false, `LOGTAIL_NO_COMPRESS="maybe": want 1 or 0`},
	}
	for _, tt := range tests {
		cfg, err := parseArgs(append(tt.args, "ws://h:1/x.log"), tt.getenv, io.Discard)
		switch {
		case tt.wantErr != "":
			if err == nil || err.Error() != tt.wantErr || exitCode(err) != 2 {
				t.Errorf("%v: err %v, want usage error %q", tt.args, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%v: %v", tt.args, err)
		case cfg.noCompress != tt.off:
			t.Errorf("%v: noCompress %v, want %v", tt.args, cfg.noCompress, tt.off)
		}
	}
}
